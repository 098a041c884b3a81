"""C-STORE files over several associations at once (pynetdicom), recording each instance the
peer acknowledged with Success the moment it does, so that a test which kills a peer part way
knows exactly what was acknowledged.

Usage: store_scu.py ACKED_FILE HOST:PORT[,HOST:PORT...] ASSOCIATIONS_PER_PEER FILE_LIST
Files are dealt round-robin to the associations; each association sends its share in order and
stops at its first failure (a peer that vanished: a failed association). Prints a JSON summary:
instances acknowledged, associations failed, instances refused by a peer still connected.
"""

import json
import sys
import threading

from pydicom import dcmread
from pynetdicom import AE

acked_path, peers, per_peer, list_path = sys.argv[1], sys.argv[2], int(sys.argv[3]), sys.argv[4]
files = [line.strip() for line in open(list_path) if line.strip()]
targets = []
for peer in peers.split(","):
    host, port = peer.rsplit(":", 1)
    targets.extend([(host, int(port))] * per_peer)
shares = [files[i :: len(targets)] for i in range(len(targets))]
# The contexts the files need: their SOP classes in their transfer syntaxes.
contexts = {}
for path in files:
    meta = dcmread(path, stop_before_pixels=True)
    contexts.setdefault(meta.SOPClassUID, set()).add(meta.file_meta.TransferSyntaxUID)
lock = threading.Lock()
acked_file = open(acked_path, "a")
summary = {"acknowledged": 0, "failed_associations": 0, "refused": 0}


def send(target, share):
    ae = AE(ae_title="STORESCU")
    for sop_class, syntaxes in contexts.items():
        ae.add_requested_context(sop_class, sorted(syntaxes))
    ae.acse_timeout = ae.dimse_timeout = ae.network_timeout = 30
    assoc = ae.associate(target[0], target[1], ae_title="LIGHTBOX")
    if not assoc.is_established:
        with lock:
            summary["failed_associations"] += 1
        return
    try:
        for path in share:
            ds = dcmread(path)
            status = assoc.send_c_store(ds)
            if status and status.Status == 0x0000:
                with lock:
                    acked_file.write(ds.SOPInstanceUID + "\n")
                    acked_file.flush()
                    summary["acknowledged"] += 1
            elif not assoc.is_established:
                # The peer vanished mid-store: pynetdicom says so by an empty status here, or
                # by an exception below, whichever comes first.
                with lock:
                    summary["failed_associations"] += 1
                return
            else:
                with lock:
                    summary["refused"] += 1
        assoc.release()
    except Exception:
        with lock:
            summary["failed_associations"] += 1
        assoc.abort()


threads = [threading.Thread(target=send, args=(t, s)) for t, s in zip(targets, shares)]
for thread in threads:
    thread.start()
for thread in threads:
    thread.join()
acked_file.close()
print(json.dumps(summary))
