#!/usr/bin/env python3
"""Convert the OpenSPF RFC 7208 test suite (rfc7208-tests.yml, from
Debian's python3-spf, /usr/share/doc/python3-spf/rfc7208-tests.yml.gz)
into rfc7208-tests.txt, a line format that tests/unit/test_spf.c reads
without a YAML parser.  Run once (needs python3-yaml):

    python3 convert.py rfc7208-tests.yml > rfc7208-tests.txt

Format: one record per line, fields separated by TAB, every field escaped
(\\\\, \\t, \\n, \\r and \\xHH for bytes outside 0x20..0x7e):

    S  description                     start a scenario (clears the zone)
    Z  name  type  value               one zone entry, in YAML order, after
                                       the suite driver's rules: SPF records
                                       are copied to TXT when the name has no
                                       TXT entry; "TXT: NONE" only marks TXT
                                       as present; type TIMEOUT has no value
    T  id  spec  helo  host  mailfrom  results(comma)  [explanation]
                                       a test; the explanation field is
                                       present only when the suite has one
"""
import sys
import yaml


def esc(v):
    if isinstance(v, str):
        b = v.encode('utf-8')
    else:
        b = str(v).encode('utf-8')
    out = []
    for c in b:
        if c == 0x5c:
            out.append('\\\\')
        elif c == 0x09:
            out.append('\\t')
        elif c == 0x0a:
            out.append('\\n')
        elif c == 0x0d:
            out.append('\\r')
        elif 0x20 <= c < 0x7f:
            out.append(chr(c))
        else:
            out.append('\\x%02x' % c)
    return ''.join(out)


def zone_entries(name, rrs):
    """Same order and rules as getrdata() in pyspf's testspf.py."""
    txt = []
    gen = True
    out = []
    for m in rrs:
        if not isinstance(m, dict):
            out.append(('TIMEOUT', None))
            continue
        for t, v in m.items():
            if t in ('TXT', 'SPF') and isinstance(v, str):
                v = [v]
            if t == 'TXT':
                gen = False
            elif t == 'SPF' and gen:
                txt.append(v)
            if v == ['NONE']:
                continue
            out.append((t, v))
    if gen:
        for v in txt:
            out.append(('TXT', v))
    return out


def value(t, v):
    if v == 'TIMEOUT':
        return 'TIMEOUT'
    if t in ('TXT', 'SPF'):
        return ''.join(v)          # character-strings joined, no spaces
    if t == 'MX':
        return '%s %s' % (v[0], v[1])
    return str(v)


def main():
    with open(sys.argv[1], 'rb') as fp:
        docs = list(yaml.safe_load_all(fp))
    for d in docs:
        print('S\t%s' % esc(d.get('description', '')))
        for name, rrs in d.get('zonedata', {}).items():
            for t, v in zone_entries(name, rrs):
                if t == 'TIMEOUT':
                    print('Z\t%s\tTIMEOUT\t' % esc(name))
                elif t == 'SPF':
                    continue       # RFC 7208 uses TXT only
                else:
                    print('Z\t%s\t%s\t%s' % (esc(name), t, esc(value(t, v))))
        for tid, tc in d['tests'].items():
            res = tc['result']
            if isinstance(res, str):
                res = [res]
            f = [tid, str(tc.get('spec', '')), tc.get('helo', ''),
                 tc.get('host', ''), tc.get('mailfrom', ''), ','.join(res)]
            if 'explanation' in tc:
                f.append(tc['explanation'])
            print('T\t' + '\t'.join(esc(x) for x in f))


if __name__ == '__main__':
    main()
