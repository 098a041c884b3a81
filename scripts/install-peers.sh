#!/usr/bin/env bash
# Installs, on Debian, what the tests run beside the Rust toolchain (run as root):
#  - g++ for the bundled C libraries (SQLite, OpenJPEG); python3 with venv and pip, which fetch
#    pydicom's wheel and the reference decoders from PyPI;
#  - dicom3tools (dciodvfy checks the DICOMDIRs Lightbox writes);
#  - the networking peers: dcmtk, orthanc and orthanc-dicomweb (the tests start and stop their
#    own Orthanc on loopback; the package's service is never started: it would listen on every
#    interface);
#  - openssl for the tests' TLS certificates, curl as an HTTPS client;
#  - iproute2 and util-linux for the tests' private network namespace;
#  - chromium and chromium-driver for the UI tests (headless, driven over WebDriver);
#  - postgresql for the PostgreSQL index (the tests initialise and start their own cluster on
#    loopback, as the package's postgres user; the package's own cluster is never started);
#  - nodejs and npm for the UI's type check, when the machine has none.
set -euo pipefail
export DEBIAN_FRONTEND=noninteractive
apt-get update -qq
# Package scripts must not start Orthanc's or PostgreSQL's service.
if [ ! -e /usr/sbin/policy-rc.d ]; then
  printf '#!/bin/sh\nexit 101\n' > /usr/sbin/policy-rc.d && chmod +x /usr/sbin/policy-rc.d
  trap 'rm -f /usr/sbin/policy-rc.d' EXIT
fi
packages=(g++ ca-certificates openssl curl dcmtk dicom3tools orthanc orthanc-dicomweb iproute2 util-linux chromium chromium-driver fonts-dejavu-core postgresql)
command -v npm >/dev/null 2>&1 || packages+=(nodejs npm)
python3 -m venv --help >/dev/null 2>&1 || packages+=(python3 python3-venv python3-pip)
apt-get install -y -qq --no-install-recommends "${packages[@]}" >/dev/null
pkill -x Orthanc 2>/dev/null || true
