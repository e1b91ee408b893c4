#!/usr/bin/python3
"""Every GStreamer element that scripts/, README.md, docs/ and examples/
name must come from a Debian package that ./scripts/check installs (or from
GStreamer's core): a line in the README that needs an element nobody
installs fails on a fresh machine while the suite, on a developer's machine,
stays green.

    check-elements-installed.py SOURCE_ROOT
"""
import glob
import os
import re
import subprocess
import sys

top = sys.argv[1]
os.chdir(top)

# The install list, as the scripts have it.
packages = set(subprocess.run(
    ['bash', '-c', 'source scripts/lib/common.sh; printf "%s\\n" "${LETSCHAT_DEBIAN_PACKAGES[@]}"'],
    check=True, capture_output=True, text=True).stdout.split())
# GStreamer's core elements (queue, fakesink, filesrc...) come with any of
# the packages above.
packages.add('libgstreamer1.0-0')

markdown = ['README.md'] + glob.glob('docs/*.md')
programs = glob.glob('scripts/*') + glob.glob('examples/*.c') + \
    glob.glob('examples/*.py') + glob.glob('examples/*.sh')


def code_of(path, text):
    """The parts of @text that hold pipelines: Markdown's code (fenced
    blocks and inline spans), a script's lines that are not comments, C and
    Python string literals."""
    if path.endswith('.md'):
        parts = [re.sub(r'(?m)\s#.*$', '', block)  # shell comments
                 for block in re.findall(r'```.*?```', text, re.S)]
        rest = re.sub(r'```.*?```', '', text, flags=re.S)
        return parts + re.findall(r'`[^`\n]+`', rest)
    if path.endswith(('.c', '.py')):
        return re.findall(r'"(?:[^"\\\n]|\\.)*"', text)
    return [line for line in text.splitlines() if not line.lstrip().startswith('#')]


# An element: right after " ! ", after gst-launch-1.0 and its options, or
# made by name in code. Not a pad or element reference ("s.", "m.audio_%u")
# nor caps ("video/x-raw").
NAME = r'([a-z][a-z0-9_]*)(?![a-z0-9_./:,=(-])'
patterns = [
    re.compile(r'(?:^|\s)!\s+(?:\\\s+)?' + NAME),
    re.compile(r'gst-launch-1\.0(?:\s+-[a-z]+)*\s+' + NAME),
]
made = re.compile(r'(?:factory_make|ElementFactory\.make)\s*\(\s*"([a-z][a-z0-9_]*)"')
names = {}
for path in markdown + programs:
    if not os.path.isfile(path):
        continue
    with open(path, encoding='utf-8', errors='replace') as f:
        text = f.read()
    for m in made.finditer(text):
        names.setdefault(m.group(1), path)
    for part in code_of(path, text):
        for pattern in patterns:
            # In C and Python, "gst-launch-1.0" in a string is prose.
            if pattern is patterns[1] and path.endswith(('.c', '.py')):
                continue
            for m in pattern.finditer(part):
                # The shell's own "!" (if ! command ...) is no pipeline.
                before = part[:m.start()].splitlines()[-1:] or ['']
                if pattern is patterns[0] and re.search(r'(^|\bif|\|\||&&|\bwhile|\bthen)\s*$', before[0]):
                    continue
                names.setdefault(m.group(1), path)

ours = {'letschatsink', 'letschatsrc'}
problems = []
checked = 0
for name, path in sorted(names.items()):
    if name in ours:
        continue
    inspect = subprocess.run(['gst-inspect-1.0', name], capture_output=True, text=True)
    if inspect.returncode != 0:
        problems.append(f'{path}: element "{name}" does not exist here '
                        '(missing package, or a typo)')
        continue
    m = re.search(r'^\s*Filename\s+(\S+)', inspect.stdout, re.M)
    if not m or m.group(1) == '(null)':
        continue  # built into GStreamer's core library itself
    # Debian registers /usr/lib/..., GStreamer may say /lib/...
    owner = subprocess.run(['dpkg', '-S', os.path.realpath(m.group(1))],
                           capture_output=True, text=True)
    package = owner.stdout.split(':')[0] if owner.returncode == 0 else None
    checked += 1
    if package not in packages:
        problems.append(f'{path}: element "{name}" comes from {package or m.group(1)}, '
                        'which scripts/lib/common.sh does not install')

for p in problems:
    print('FAIL', p)
print(f'{checked} elements named in the docs, scripts and examples checked, '
      f'{len(problems)} problem(s)')
sys.exit(1 if problems else 0)
