#!/usr/bin/env python3
# letschat
# Copyright (C) 2026 letschat developers
# SPDX-License-Identifier: LGPL-2.1-or-later
"""Writes letschat-server's man page and example configuration file from
the program's own --help, at build time: every option of the command line
(including ones added later) is in both, with the text gst-inspect-like
--help shows, so the three cannot disagree.

    make-server-docs.py man  SERVER TEMPLATE OUTPUT [NAME=VALUE...]
                         (@NAME@ in TEMPLATE becomes VALUE)
    make-server-docs.py conf SERVER OUTPUT
"""
import re
import textwrap
import subprocess
import sys

# "  -H, --host=HOST     Address to listen on ..." under "Application Options:"
OPTION = re.compile(r'^  (?:-(\w), )?--([\w-]+)(?:=(\S+))?\s+(.*)$')
# Options that make no sense in a configuration file.
NOT_IN_CONFIG = {'config', 'version', 'help'}


def options(server):
    text = subprocess.run([server, '--help'], check=True, capture_output=True,
                          text=True, env={'LC_ALL': 'C.UTF-8'}).stdout
    found, inside = [], False
    for line in text.splitlines():
        if line == 'Application Options:':
            inside = True
        elif inside and not line.strip():
            break
        elif inside:
            m = OPTION.match(line)
            if not m:
                sys.exit(f'make-server-docs.py: cannot read option line {line!r}')
            found.append(dict(short=m[1], name=m[2], arg=m[3], help=m[4]))
    if not found:
        sys.exit('make-server-docs.py: no options in --help')
    return found


def troff(text):
    text = text.replace('\\', '\\e').replace('-', '\\-')
    return '\\&' + text if text[:1] in ('.', "'") else text


def man(server, template, output, *substitutions):
    lines = []
    for o in options(server):
        head = f'\\fB\\-\\-{troff(o["name"])[0:]}\\fR'
        if o['arg']:
            head += f'=\\fI{troff(o["arg"])}\\fR'
        if o['short']:
            head = f'\\fB\\-{o["short"]}\\fR, ' + head
        lines += ['.TP', head, troff(o['help'])]
    with open(template, encoding='utf-8') as f:
        page = f.read()
    for sub in substitutions:
        name, _, value = sub.partition('=')
        page = page.replace(f'@{name}@', value)
    page = page.replace('@OPTIONS@', '\n'.join(lines))
    with open(output, 'w', encoding='utf-8') as f:
        f.write(page)


def conf(server, output):
    out = [
        '# letschat-server configuration (letschat-server --config FILE).',
        '# One key per long option of the command line, without the dashes;',
        '# a repeatable option takes a list separated by ";". Options given on',
        '# the command line override these. Every key below is commented out:',
        '# its default applies. See man letschat-server and docs/operations.md.',
        '',
        '[server]',
    ]
    for o in options(server):
        if o['name'] in NOT_IN_CONFIG:
            continue
        out += [''] + textwrap.wrap(o['help'], 76, initial_indent='# ',
                                    subsequent_indent='# ')
        out += [f'#{o["name"]}={o["arg"] or "true"}']
    with open(output, 'w', encoding='utf-8') as f:
        f.write('\n'.join(out) + '\n')


if __name__ == '__main__':
    if sys.argv[1:2] == ['man'] and len(sys.argv) >= 5:
        man(*sys.argv[2:])
    elif sys.argv[1:2] == ['conf'] and len(sys.argv) == 4:
        conf(*sys.argv[2:])
    else:
        sys.exit(__doc__)
