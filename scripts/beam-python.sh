#!/usr/bin/env bash
# Installs Apache Beam's Python SDK 2.77.0 (from PyPI, by name and version) into a virtualenv in the project's cache
# outside the clone, $TIDEMARK_CACHE/beam-python-2.77.0 (default ~/.cache/tidemark), once: later calls reuse it.
# Prints the virtualenv's python. Used by the `prism` benchmark to run the same job in Beam Python on the same Prism.
set -euo pipefail
version=2.77.0
venv="${TIDEMARK_CACHE:-$HOME/.cache/tidemark}/beam-python-$version"
if [ -x "$venv/bin/python" ] && "$venv/bin/python" -c "import apache_beam, sys; sys.exit(apache_beam.__version__ != '$version')" 2>/dev/null; then
  echo "$venv/bin/python"; exit 0
fi
command -v python3 >/dev/null || { echo "beam-python: python3 is not installed" >&2; exit 1; }
start=$(date +%s)
echo "beam-python: installing apache-beam==$version into $venv (a few minutes once)" >&2
rm -rf "$venv.tmp"
python3 -m venv "$venv.tmp"
"$venv.tmp/bin/pip" install --quiet --disable-pip-version-check "apache-beam==$version" >&2
rm -rf "$venv"
mv "$venv.tmp" "$venv"
# A moved virtualenv's scripts keep the old path; python itself does not need them.
echo "beam-python: installed in $(( $(date +%s) - start )) s" >&2
echo "$venv/bin/python"
