#!/usr/bin/env bash
# DICOMweb benchmarks, side by side in one run, Lightbox vs Orthanc 1.10 with its DICOMweb
# plugin, on loopback inside a private network namespace; the same python `requests` client
# times both:
#   1. WADO-RS retrieval of a 200-instance series (512×512 CT, as stored), median of 7, timed by
#      python requests and by curl;
#   2. STOW-RS of 1,000 such instances in one request, each server starting empty (median of 3);
#   3. QIDO-RS `/studies?limit=100` with 100,000 studies in Lightbox: p50 / p95 of 200 requests.
# Usage: bash bench/dicomweb.sh   (needs orthanc, orthanc-dicomweb, iproute2; root for the namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${LIGHTBOX_BENCH_NETNS:-}" != 1 ]; then
  cargo build --release -q -p lightbox
  [ -x .venv/bin/python ] || bash scripts/test-setup.sh >/dev/null
  exec unshare -n env LIGHTBOX_BENCH_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
LB=$PWD/target/release/lightbox
PY=$PWD/.venv/bin/python
CLIENT=$PWD/bench/dicomweb_client.py
WORK=$(mktemp -d /tmp/lightbox-dicomweb-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
wait_port() { for _ in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
median() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
start_orthanc() { # dir dicom_port http_port
  mkdir -p "$1"
  cat > "$1/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$1/db", "IndexDirectory": "$1/db", "DicomAet": "ORTHANC",
  "DicomPort": $2, "HttpPort": $3, "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
  "DicomAlwaysAllowStore": true, "Plugins": ["/usr/share/orthanc/plugins/libOrthancDicomWeb.so"],
  "DicomWeb": { "Enable": true, "Root": "/dicom-web/" } }
JSON
  Orthanc "$1/orthanc.json" > "$1/log" 2>&1 & PIDS+=($!); wait_port "$2"; wait_port "$3"
}
start_lightbox() { # data_dir dicom_port http_port
  "$LB" --data-dir "$1" serve --port "$2" --http-port "$3" 2>/dev/null & PIDS+=($!); wait_port "$2"; wait_port "$3"
}

echo "generating data sets..." >&2
"$LB" generate "$WORK/ct" --patients 1 --studies 1 --series 5 --instances 200 --modality CT 2>/dev/null
mapfile -t FILES < <(find "$WORK/ct" -type f | sort)
[ "${#FILES[@]}" -eq 1000 ] || { echo "expected 1000 files" >&2; exit 1; }
BOUNDARY=lightbox-bench-boundary
"$PY" "$CLIENT" body "$WORK/body" "$BOUNDARY" "${FILES[@]}"
SERIES_DIR=$(find "$WORK/ct" -mindepth 3 -maxdepth 3 -type d | head -1)
STUDY=$("$PY" -c "import pydicom,sys,glob; print(pydicom.dcmread(sorted(glob.glob(sys.argv[1]+'/*'))[0], stop_before_pixels=True).StudyInstanceUID)" "$SERIES_DIR")
SERIES=$("$PY" -c "import pydicom,sys,glob; print(pydicom.dcmread(sorted(glob.glob(sys.argv[1]+'/*'))[0], stop_before_pixels=True).SeriesInstanceUID)" "$SERIES_DIR")

echo
echo "| 2. STOW-RS of 1,000 CT instances (526 KB) in one request, into an empty server (median of 3) | seconds |"
echo "|---|---:|"
declare -a S_LB S_OR
for round in 1 2 3; do
  rm -rf "$WORK/lb"; start_lightbox "$WORK/lb" 11301 18301; LBPID=${PIDS[-1]}
  sync; S_LB+=("$("$PY" "$CLIENT" stow http://127.0.0.1:18301/dicom-web/studies "$WORK/body" "$BOUNDARY" | cut -d' ' -f1)")
  [ "$("$LB" --data-dir "$WORK/lb" stats --json | grep -o '"instances":[0-9]*')" = '"instances":1000' ] || { echo "Lightbox did not store 1000" >&2; exit 1; }
  if [ "$round" -lt 3 ]; then kill "$LBPID"; wait "$LBPID" 2>/dev/null || true; fi
  rm -rf "$WORK/orthanc"; start_orthanc "$WORK/orthanc" 11302 18302; ORPID=${PIDS[-1]}
  sync; S_OR+=("$("$PY" "$CLIENT" stow http://127.0.0.1:18302/dicom-web/studies "$WORK/body" "$BOUNDARY" | cut -d' ' -f1)")
  if [ "$round" -lt 3 ]; then kill "$ORPID"; wait "$ORPID" 2>/dev/null || true; fi
done
s_lb=$(median "${S_LB[@]}"); s_or=$(median "${S_OR[@]}")
printf '| Lightbox | %.2f |\n| Orthanc | %.2f |\n' "$s_lb" "$s_or"
printf '\nLightbox %.2fx faster (target ≥ 3x); rounds: Lightbox %s, Orthanc %s\n' "$(echo "$s_or/$s_lb" | bc -l)" "${S_LB[*]}" "${S_OR[*]}"

echo
echo "| 1. WADO-RS of a 200-instance series, as stored (median of 7, alternating servers) | client | seconds | MB |"
echo "|---|---|---:|---:|"
ACCEPT='multipart/related; type="application/dicom"; transfer-syntax=*'
declare -a W_LB W_OR C_LB C_OR
for round in 1 2 3 4 5 6 7; do
  W_LB+=("$("$PY" "$CLIENT" wado "http://127.0.0.1:18301/dicom-web/studies/$STUDY/series/$SERIES" "$ACCEPT")")
  W_OR+=("$("$PY" "$CLIENT" wado "http://127.0.0.1:18302/dicom-web/studies/$STUDY/series/$SERIES" "$ACCEPT")")
  C_LB+=("$(curl -s -o /dev/null -H "Accept: $ACCEPT" -w '%{time_total} %{size_download}' "http://127.0.0.1:18301/dicom-web/studies/$STUDY/series/$SERIES")")
  C_OR+=("$(curl -s -o /dev/null -H "Accept: $ACCEPT" -w '%{time_total} %{size_download}' "http://127.0.0.1:18302/dicom-web/studies/$STUDY/series/$SERIES")")
done
median7() { printf '%s\n' "$@" | cut -d' ' -f1 | sort -g | sed -n 4p; }
w_lb=$(median7 "${W_LB[@]}"); w_or=$(median7 "${W_OR[@]}"); c_lb=$(median7 "${C_LB[@]}"); c_or=$(median7 "${C_OR[@]}")
mb_lb=$(echo "${W_LB[0]}" | cut -d' ' -f2); mb_or=$(echo "${W_OR[0]}" | cut -d' ' -f2)
printf '| Lightbox | python requests | %.3f | %.0f |\n| Orthanc | python requests | %.3f | %.0f |\n' "$w_lb" "$(echo "$mb_lb/1000000" | bc -l)" "$w_or" "$(echo "$mb_or/1000000" | bc -l)"
printf '| Lightbox | curl | %.3f | %.0f |\n| Orthanc | curl | %.3f | %.0f |\n' "$c_lb" "$(echo "${C_LB[0]#* }/1000000" | bc -l)" "$c_or" "$(echo "${C_OR[0]#* }/1000000" | bc -l)"
printf '\nLightbox %.2fx faster with python requests, %.2fx with curl (target ≥ 1.5x)\n' "$(echo "$w_or/$w_lb" | bc -l)" "$(echo "$c_or/$c_lb" | bc -l)"
printf 'rounds (s): requests Lightbox %s; Orthanc %s\n' "$(printf '%s ' "${W_LB[@]}" | sed 's/ [0-9]* / /g')" "$(printf '%s ' "${W_OR[@]}" | sed 's/ [0-9]* / /g')"
printf 'rounds (s): curl Lightbox %s; Orthanc %s\n' "$(printf '%s ' "${C_LB[@]}" | sed 's/ [0-9]* / /g')" "$(printf '%s ' "${C_OR[@]}" | sed 's/ [0-9]* / /g')"

echo
echo "| 3. QIDO-RS /studies?limit=100, 100,000 studies in Lightbox (200 requests) | p50 ms | p95 ms | matches |"
echo "|---|---:|---:|---:|"
"$LB" generate "$WORK/many" --patients 20000 --studies 5 --series 1 --instances 1 --rows 8 --columns 8 2>/dev/null
"$LB" --data-dir "$WORK/lb100k" import --link --json "$WORK/many" > /dev/null
start_lightbox "$WORK/lb100k" 11303 18303
read -r p50 p95 n < <("$PY" "$CLIENT" qido "http://127.0.0.1:18303/dicom-web/studies?limit=100" 200)
printf '| /studies?limit=100 | %s | %s | %s |\n' "$p50" "$p95" "$n"
read -r p50 p95 n < <("$PY" "$CLIENT" qido "http://127.0.0.1:18303/dicom-web/studies?limit=101&offset=0&fuzzymatching=true&includefield=00081030%2C00080060&PatientName=b" 200)
printf '| OHIF worklist: limit=101, fuzzymatching, includefield, PatientName=b | %s | %s | %s |\n' "$p50" "$p95" "$n"
