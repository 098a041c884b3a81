#!/usr/bin/env bash
# DIMSE benchmarks, side by side in one run, on loopback inside a private network namespace
# (DCMTK and Orthanc listen on every interface; here only loopback exists).
#   1. storescu of 1,000 synthetic 512×512 CT instances → Lightbox (stored + indexed) / DCMTK
#      storescp (files only) / Orthanc;
#   2. lightbox send → storescp vs storescu → storescp;
#   3. C-GET and C-MOVE of a 200-instance series from Orthanc: lightbox retrieve vs getscu /
#      movescu writing plain files;
#   4. C-FIND: Lightbox with 100,000 studies vs Orthanc with 1,000, same query set;
#   5. receiving one 500 MB multi-frame instance: Lightbox's peak RSS increase.
# Usage: bash bench/dimse.sh   (needs dcmtk, orthanc, iproute2; run as root for the namespace)
set -euo pipefail
cd "$(dirname "$0")/.."
if [ "${LIGHTBOX_BENCH_NETNS:-}" != 1 ]; then
  cargo build --release -q -p lightbox
  [ -x .venv/bin/python ] || bash scripts/test-setup.sh >/dev/null
  exec unshare -n env LIGHTBOX_BENCH_NETNS=1 bash -c 'ip link set lo up && exec bash "$0"' "$0"
fi
export TCP_NODELAY=1
LB=$PWD/target/release/lightbox
PY=$PWD/.venv/bin/python
WORK=$(mktemp -d /tmp/lightbox-dimse-bench.XXXXXX)
PIDS=()
cleanup() { for p in "${PIDS[@]}"; do kill "$p" 2>/dev/null || true; wait "$p" 2>/dev/null || true; done; rm -rf "$WORK"; }
trap cleanup EXIT
now() { date +%s.%N; }
elapsed() { echo "$(now) - $1" | bc -l; }
wait_port() { for _ in $(seq 200); do (echo > "/dev/tcp/127.0.0.1/$1") 2>/dev/null && return 0; sleep 0.05; done; echo "port $1 never opened" >&2; exit 1; }
start_orthanc() { # dir dicom_port http_port [modalities json]
  mkdir -p "$1"
  cat > "$1/orthanc.json" <<JSON
{ "Name": "bench", "StorageDirectory": "$1/db", "IndexDirectory": "$1/db", "DicomAet": "ORTHANC",
  "DicomPort": $2, "HttpPort": $3, "RemoteAccessAllowed": false, "AuthenticationEnabled": false,
  "DicomAlwaysAllowStore": true, "DicomAlwaysAllowFind": true, "DicomAlwaysAllowGet": true,
  "DicomAlwaysAllowMove": true, "DicomModalities": ${4:-{\}}, "Plugins": [] }
JSON
  Orthanc "$1/orthanc.json" > "$1/log" 2>&1 & PIDS+=($!); wait_port "$2"; wait_port "$3"
}

echo "generating data sets..." >&2
"$LB" generate "$WORK/ct" --patients 1 --studies 1 --series 5 --instances 200 --modality CT 2>/dev/null
N=$(find "$WORK/ct" -type f | wc -l); [ "$N" -eq 1000 ] || { echo "expected 1000 files, got $N" >&2; exit 1; }
find "$WORK/ct" -type f -print0 | xargs -0 cat > /dev/null
SERIES_DIR=$(find "$WORK/ct" -mindepth 3 -maxdepth 3 -type d | head -1)

echo
echo "| 1. storescu of 1,000 CT instances (526 KB) into (median of 5 rounds) | seconds | instances/s |"
echo "|---|---:|---:|"
# Each timed run starts after a sync, so no contender pays for another's dirty pages.
median() { printf '%s\n' "$@" | sort -g | sed -n 3p; }
mkdir -p "$WORK/scp1"; storescp -od "$WORK/scp1" 11202 & PIDS+=($!); wait_port 11202
start_orthanc "$WORK/orthanc1" 11203 11204; ORTHANC1=${PIDS[-1]}
declare -a R_LB R_DCMTK R_ORTHANC
median3() { printf '%s\n' "$@" | sort -g | sed -n 2p; }
for round in 1 2 3 4 5; do
  rm -rf "$WORK/lb1"; "$LB" --data-dir "$WORK/lb1" serve --port 11201 --http-port 0 2>/dev/null & LBPID=$!; wait_port 11201
  sync; t=$(now); storescu -aec LIGHTBOX +sd +r 127.0.0.1 11201 "$WORK/ct"; R_LB+=("$(elapsed "$t")")
  kill $LBPID; wait $LBPID 2>/dev/null || true
  [ "$("$LB" --data-dir "$WORK/lb1" stats --json | grep -o '"instances":[0-9]*')" = '"instances":1000' ] || { echo "Lightbox did not store 1000" >&2; exit 1; }
  rm -rf "$WORK/scp1"/*; sync; t=$(now); storescu -aec ANY-SCP +sd +r 127.0.0.1 11202 "$WORK/ct"; R_DCMTK+=("$(elapsed "$t")")
  # Orthanc keeps the first copy of a repeated instance: each of its 3 rounds starts empty.
  if [ "$round" -le 3 ]; then
    if [ "$round" -gt 1 ]; then
      kill "$ORTHANC1"; wait "$ORTHANC1" 2>/dev/null || true; rm -rf "$WORK/orthanc1"
      start_orthanc "$WORK/orthanc1" 11203 11204; ORTHANC1=${PIDS[-1]}
    fi
    sync; t=$(now); storescu -aec ORTHANC +sd +r 127.0.0.1 11203 "$WORK/ct"; R_ORTHANC+=("$(elapsed "$t")")
  fi
done
s_lb=$(median "${R_LB[@]}"); s_dcmtk=$(median "${R_DCMTK[@]}"); s_orthanc=$(median3 "${R_ORTHANC[@]}")
printf '| Lightbox (stored and indexed) | %.2f | %.0f |\n| DCMTK storescp (files only) | %.2f | %.0f |\n| Orthanc (median of 3 rounds) | %.2f | %.0f |\n' \
  "$s_lb" "$(echo "1000/$s_lb" | bc -l)" "$s_dcmtk" "$(echo "1000/$s_dcmtk" | bc -l)" "$s_orthanc" "$(echo "1000/$s_orthanc" | bc -l)"
printf '\nLightbox vs DCMTK storescp: %.2fx (target ≥ 1.0x); vs Orthanc: %.2fx (target ≥ 4x); all rounds: Lightbox %s, storescp %s, Orthanc %s\n' "$(echo "$s_dcmtk/$s_lb" | bc -l)" "$(echo "$s_orthanc/$s_lb" | bc -l)" "${R_LB[*]}" "${R_DCMTK[*]}" "${R_ORTHANC[*]}"
"$LB" --data-dir "$WORK/lb1" serve --port 11201 --http-port 0 2>/dev/null & PIDS+=($!); wait_port 11201

echo
echo "| 2. send 1,000 CT instances to DCMTK storescp | seconds |"
echo "|---|---:|"
rm -rf "$WORK/scp1"/*
t=$(now); "$LB" --data-dir "$WORK/lb1" send ANY-SCP@127.0.0.1:11202 "$WORK/ct" > /dev/null; s_send=$(elapsed "$t")
rm -rf "$WORK/scp1"/*
t=$(now); storescu -aec ANY-SCP +sd +r 127.0.0.1 11202 "$WORK/ct"; s_storescu=$(elapsed "$t")
printf '| lightbox send | %.2f |\n| storescu | %.2f |\n' "$s_send" "$s_storescu"
printf '\nlightbox send vs storescu: %.2fx (target ≥ 1.0x)\n' "$(echo "$s_storescu/$s_send" | bc -l)"

echo
echo "| 3. retrieve a 200-instance series from Orthanc (median of 3 rounds) | seconds |"
echo "|---|---:|"
STUDY=$("$PY" -c "import pydicom,sys,glob; print(pydicom.dcmread(sorted(glob.glob(sys.argv[1]+'/*'))[0], stop_before_pixels=True).StudyInstanceUID)" "$SERIES_DIR")
SERIES=$("$PY" -c "import pydicom,sys,glob; print(pydicom.dcmread(sorted(glob.glob(sys.argv[1]+'/*'))[0], stop_before_pixels=True).SeriesInstanceUID)" "$SERIES_DIR")
declare -a R_GET R_GETSCU R_MOVE R_MOVESCU
for round in 1 2 3; do
  rm -rf "$WORK/lb3" "$WORK/getscu"; mkdir -p "$WORK/getscu"; sync
  t=$(now); "$LB" --data-dir "$WORK/lb3" retrieve ORTHANC@127.0.0.1:11203 --study "$STUDY" --series "$SERIES" > /dev/null; R_GET+=("$(elapsed "$t")")
  sync
  t=$(now); getscu -S -aec ORTHANC -od "$WORK/getscu" -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$STUDY" -k SeriesInstanceUID="$SERIES" 127.0.0.1 11203; R_GETSCU+=("$(elapsed "$t")")
  [ "$(ls "$WORK/getscu" | wc -l)" -eq 200 ] || { echo "getscu got $(ls "$WORK/getscu" | wc -l)" >&2; exit 1; }
done
s_get=$(median3 "${R_GET[@]}"); s_getscu=$(median3 "${R_GETSCU[@]}")
kill "$ORTHANC1"; wait "$ORTHANC1" 2>/dev/null || true
start_orthanc "$WORK/orthanc1" 11203 11204 '{"lightbox": ["LIGHTBOX", "127.0.0.1", 11205], "movescu": ["MOVESCU", "127.0.0.1", 11206]}'
"$LB" --data-dir "$WORK/lb4" nodes add orthanc ORTHANC@127.0.0.1:11203 --retrieve move
for round in 1 2 3; do
  rm -rf "$WORK/lb4/files" "$WORK/lb4/index.sqlite"* "$WORK/movescu"; mkdir -p "$WORK/movescu"; sync
  t=$(now); "$LB" --data-dir "$WORK/lb4" retrieve orthanc --study "$STUDY" --series "$SERIES" --listen 127.0.0.1:11205 > /dev/null; R_MOVE+=("$(elapsed "$t")")
  sync
  t=$(now); movescu -S -aec ORTHANC -aet MOVESCU -aem MOVESCU --port 11206 -od "$WORK/movescu" -k QueryRetrieveLevel=SERIES -k StudyInstanceUID="$STUDY" -k SeriesInstanceUID="$SERIES" 127.0.0.1 11203; R_MOVESCU+=("$(elapsed "$t")")
  [ "$(ls "$WORK/movescu" | wc -l)" -eq 200 ] || { echo "movescu got $(ls "$WORK/movescu" | wc -l)" >&2; exit 1; }
done
s_move=$(median3 "${R_MOVE[@]}"); s_movescu=$(median3 "${R_MOVESCU[@]}")
printf '| lightbox retrieve (C-GET, into the store) | %.2f |\n| getscu (plain files) | %.2f |\n| lightbox retrieve (C-MOVE, into the store) | %.2f |\n| movescu + its storage SCP (plain files) | %.2f |\n' "$s_get" "$s_getscu" "$s_move" "$s_movescu"
printf '\nC-GET: Lightbox takes %.2fx getscu'"'"'s time (target ≤ 1.2x); C-MOVE: %.2fx movescu'"'"'s (target ≤ 1.2x)\n' "$(echo "$s_get/$s_getscu" | bc -l)" "$(echo "$s_move/$s_movescu" | bc -l)"
printf 'all rounds: lightbox C-GET %s, getscu %s, lightbox C-MOVE %s, movescu %s\n' "${R_GET[*]}" "${R_GETSCU[*]}" "${R_MOVE[*]}" "${R_MOVESCU[*]}"

echo
echo "| 4. C-FIND (5 queries of each kind) | Lightbox, 100,000 studies: s (matches/query) | Orthanc, 1,000 studies: s (matches/query) |"
echo "|---|---:|---:|"
"$LB" generate "$WORK/many" --patients 20000 --studies 5 --series 1 --instances 1 --rows 8 --columns 8 2>/dev/null
"$LB" generate "$WORK/few" --patients 200 --studies 5 --series 1 --instances 1 --rows 8 --columns 8 2>/dev/null
"$LB" --data-dir "$WORK/lb5" import --link --json "$WORK/many" > /dev/null
"$LB" --data-dir "$WORK/lb5" serve --port 11207 --http-port 0 2>/dev/null & PIDS+=($!); wait_port 11207
start_orthanc "$WORK/orthanc5" 11208 11209
storescu -aec ORTHANC +sd +r 127.0.0.1 11208 "$WORK/few"
mapfile -t LB_IDS < <("$LB" --data-dir "$WORK/lb5" studies --json --limit 5 | "$PY" -c "import json,sys; [print(s['PatientID']) for s in json.load(sys.stdin)['studies']]")
mapfile -t OR_IDS < <(find "$WORK/few" -mindepth 1 -maxdepth 1 -type d -printf '%f\n' | head -5)
run_kind() { # port aet kind ids...
  local port=$1 aet=$2 kind=$3; shift 3; local ids=("$@") total=0 t
  t=$(now)
  for i in 0 1 2 3 4; do
    case $kind in
      id) keys=(-k "PatientID=${ids[$i]}") ;;
      name) keys=(-k "PatientName=$(printf '%s' ABCDEFGHIJ | cut -c$((i+1)))*") ;;
      date) keys=(-k "StudyDate=202$((i % 6))0101-202$((i % 6))0131") ;;
      modality) keys=(-k ModalitiesInStudy=MR -k "StudyDescription=*BRAIN*") ;;
    esac
    n=$(findscu -S -aec "$aet" -k QueryRetrieveLevel=STUDY "${keys[@]}" -k StudyInstanceUID 127.0.0.1 "$port" 2>&1 | grep -c "Find Response" || true)
    total=$((total + n))
  done
  printf '%.3f (%d)' "$(elapsed "$t")" "$((total / 5))"
}
for kind in id name date modality; do
  printf '| %s | %s | %s |\n' "$kind" "$(run_kind 11207 LIGHTBOX $kind "${LB_IDS[@]}")" "$(run_kind 11208 ORTHANC $kind "${OR_IDS[@]}")"
done
# The same queries with `lightbox find` as the client of both servers: findscu spends about
# 45 µs of its own on every response, which dominates queries with thousands of matches.
run_kind_lb() { # address kind ids...
  local address=$1 kind=$2; shift 2; local ids=("$@") t
  t=$(now)
  for i in 0 1 2 3 4; do
    case $kind in
      id) keys=(--patient-id "${ids[$i]}") ;;
      name) keys=(--patient-name "$(printf '%s' ABCDEFGHIJ | cut -c$((i+1)))*") ;;
      date) keys=(--date "202$((i % 6))0101-202$((i % 6))0131") ;;
      modality) keys=(--modality MR --description '*BRAIN*') ;;
    esac
    "$LB" --data-dir "$WORK/client" find "$address" --level study "${keys[@]}" --json > /dev/null
  done
  printf '%.3f' "$(elapsed "$t")"
}
echo
echo "| 4b. the same C-FIND queries, lightbox find as the client | Lightbox, 100,000 studies: s | Orthanc, 1,000 studies: s |"
echo "|---|---:|---:|"
for kind in id name date modality; do
  printf '| %s | %s | %s |\n' "$kind" "$(run_kind_lb LIGHTBOX@127.0.0.1:11207 $kind "${LB_IDS[@]}")" "$(run_kind_lb ORTHANC@127.0.0.1:11208 $kind "${OR_IDS[@]}")"
done

echo
echo "| 5. receive one 500 MB multi-frame instance | MB |"
echo "|---|---:|"
"$PY" - "$WORK/big.dcm" <<'PY'
import sys, numpy as np, pydicom
from pydicom.dataset import Dataset, FileMetaDataset
from pydicom.uid import ExplicitVRLittleEndian, generate_uid
frames, rows, cols = 1000, 512, 512
ds = Dataset()
ds.file_meta = FileMetaDataset()
ds.file_meta.TransferSyntaxUID = ExplicitVRLittleEndian
ds.SOPClassUID = "1.2.840.10008.5.1.4.1.1.7.3"
ds.file_meta.MediaStorageSOPClassUID = ds.SOPClassUID
ds.SOPInstanceUID = ds.file_meta.MediaStorageSOPInstanceUID = generate_uid()
ds.StudyInstanceUID, ds.SeriesInstanceUID = generate_uid(), generate_uid()
ds.PatientName, ds.PatientID, ds.Modality = "Big^Multiframe", "BIG1", "OT"
ds.Rows, ds.Columns, ds.NumberOfFrames = rows, cols, frames
ds.SamplesPerPixel, ds.PhotometricInterpretation = 1, "MONOCHROME2"
ds.BitsAllocated, ds.BitsStored, ds.HighBit, ds.PixelRepresentation = 16, 16, 15, 0
ds.PixelData = (np.arange(frames * rows * cols, dtype=np.uint32) % 4096).astype(np.uint16).tobytes()
ds.save_as(sys.argv[1], enforce_file_format=True)
PY
"$LB" --data-dir "$WORK/lb6" serve --port 11210 --http-port 0 2>/dev/null & SERVE=$!; PIDS+=($SERVE); wait_port 11210
before=$(awk '/VmHWM/ {print $2}' "/proc/$SERVE/status")
storescu -aec LIGHTBOX 127.0.0.1 11210 "$WORK/big.dcm"
after=$(awk '/VmHWM/ {print $2}' "/proc/$SERVE/status")
printf '| Lightbox peak RSS before | %.1f |\n| after receiving %s MB | %.1f |\n' "$(echo "$before/1024" | bc -l)" "$(( $(stat -c %s "$WORK/big.dcm") / 1000000 ))" "$(echo "$after/1024" | bc -l)"
printf '\nPeak RSS increase: %.1f MB (target < 100 MB)\n' "$(echo "($after-$before)/1024" | bc -l)"
