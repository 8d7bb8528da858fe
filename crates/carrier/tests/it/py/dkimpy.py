#!/usr/bin/python3
"""dkimpy (Debian's python3-dkim), the independent DKIM and ARC implementation the tests
judge carrier by. Keys come from a records file ("name value" per line) instead of DNS.

  dkimpy.py verify MESSAGE RECORDS        one line per DKIM-Signature: "d=.. s=.. a=.. pass|fail"
  dkimpy.py arc MESSAGE RECORDS           the ARC chain's result: "arc pass|fail|none ..."
  dkimpy.py sign MESSAGE KEY DOMAIN SELECTOR ALGORITHM
                                          the message with a DKIM-Signature on top (stdout)
"""
import re
import sys

import dkim


def load_records(path):
    records = {}
    with open(path) as f:
        for line in f:
            name, _, value = line.strip().partition(" ")
            if name:
                records[name.rstrip(".").lower()] = value.encode()
    return records


def dnsfunc_for(records):
    def dnsfunc(name, timeout=5):
        if isinstance(name, bytes):
            name = name.decode()
        return records.get(name.rstrip(".").lower())
    return dnsfunc


def tag(header, name):
    m = re.search(rb"(?:^|;)\s*" + name + rb"=([^;]*)", header)
    return re.sub(rb"\s+", b"", m.group(1)).decode() if m else "?"


def verify(message, records):
    d = dkim.DKIM(message)
    signatures = [v for (n, v) in d.headers if n.lower() == b"dkim-signature"]
    if not signatures:
        print("no signature")
    for i, value in enumerate(signatures):
        try:
            ok = d.verify(idx=i, dnsfunc=dnsfunc_for(records))
        except dkim.DKIMException as e:
            print(f"  ({e})", file=sys.stderr)
            ok = False
        print(f"d={tag(value, b'd')} s={tag(value, b's')} a={tag(value, b'a')} {'pass' if ok else 'fail'}")


def arc(message, records):
    cv, results, reason = dkim.arc_verify(message, dnsfunc=dnsfunc_for(records))
    print(f"arc {cv.decode()} {reason}")


def sign(message, key, domain, selector, algorithm):
    headers = [b"From", b"To", b"Subject", b"Date", b"Message-ID"]
    signature = dkim.sign(message, selector.encode(), domain.encode(), key,
                          canonicalize=(b"relaxed", b"relaxed"),
                          signature_algorithm=algorithm.encode(), include_headers=headers)
    sys.stdout.buffer.write(signature + message)


def main():
    command, path = sys.argv[1], sys.argv[2]
    with open(path, "rb") as f:
        message = f.read()
    if command == "verify":
        verify(message, load_records(sys.argv[3]))
    elif command == "arc":
        arc(message, load_records(sys.argv[3]))
    elif command == "sign":
        with open(sys.argv[3], "rb") as f:
            key = f.read()
        sign(message, key, sys.argv[4], sys.argv[5], sys.argv[6])
    else:
        sys.exit(f"unknown command {command}")


if __name__ == "__main__":
    main()
