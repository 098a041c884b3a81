"""Timing client for bench/dicomweb.sh (python requests, one connection per run).

  wado URL ACCEPT                 one GET, body read to the end: prints seconds and bytes
  stow URL BODY_FILE BOUNDARY     one POST of a prepared multipart body: prints seconds and status
  qido URL N                      N GETs of URL: prints p50 and p95 in ms
  body OUT BOUNDARY FILE...       writes a multipart/related body of FILEs (not timed)
"""
import sys
import time

import requests

command = sys.argv[1]
if command == "wado":
    url, accept = sys.argv[2], sys.argv[3]
    session = requests.Session()
    t = time.perf_counter()
    response = session.get(url, headers={"Accept": accept}, stream=True)
    size = sum(len(chunk) for chunk in response.iter_content(1 << 16))
    elapsed = time.perf_counter() - t
    assert response.status_code == 200, response.status_code
    print(f"{elapsed:.3f} {size}")
elif command == "stow":
    url, body, boundary = sys.argv[2], sys.argv[3], sys.argv[4]
    with open(body, "rb") as f:
        t = time.perf_counter()
        response = requests.post(
            url,
            data=f,
            headers={
                "Content-Type": f'multipart/related; type="application/dicom"; boundary={boundary}',
                "Accept": "application/dicom+json",
            },
        )
        elapsed = time.perf_counter() - t
    print(f"{elapsed:.3f} {response.status_code}")
elif command == "qido":
    url, n = sys.argv[2], int(sys.argv[3])
    session = requests.Session()
    times = []
    for _ in range(n):
        t = time.perf_counter()
        response = session.get(url, headers={"Accept": "application/dicom+json"})
        response.content
        times.append((time.perf_counter() - t) * 1000)
        assert response.status_code == 200, response.status_code
    times.sort()
    print(f"{times[len(times) // 2]:.2f} {times[int(len(times) * 0.95)]:.2f} {len(response.json())}")
elif command == "body":
    out, boundary, files = sys.argv[2], sys.argv[3], sys.argv[4:]
    with open(out, "wb") as o:
        for path in files:
            o.write(f"--{boundary}\r\nContent-Type: application/dicom\r\n\r\n".encode())
            with open(path, "rb") as f:
                o.write(f.read())
            o.write(b"\r\n")
        o.write(f"--{boundary}--\r\n".encode())
