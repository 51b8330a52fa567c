#!/usr/bin/env bash
# Builds a release a user can verify, into dist/ (not kept in git):
#   dist/idp-VERSION-x86_64-linux.tar.gz   the binary, README.md, LICENSE-MIT, LICENSE-APACHE,
#                                          THIRD-PARTY-LICENSES.txt and the SBOM
#   dist/idp.cdx.json                      CycloneDX 1.5 SBOM: every crate built into idp
#   dist/idp                               the binary alone, its dependency list embedded
#                                          (cargo auditable: `cargo audit bin idp` reads it)
#   dist/SHA256SUMS                        `sha256sum -c SHA256SUMS` checks all of the above
#
#   scripts/release.sh
#
# `idp --version` names the commit (`-dirty` when the tree has uncommitted changes). Needs
# cargo-auditable, cargo-cyclonedx and cargo-audit (installed, pinned, when missing) and
# the advisory snapshot in ../shared/advisory-db (ADVISORY_DB) for the final check.
set -euo pipefail
source "$(dirname "${BASH_SOURCE[0]}")/lib.sh"
cd "$root"

target=x86_64-unknown-linux-gnu
[[ $(rustc -vV | sed -n 's/^host: //p') == "$target" ]] || {
  echo "error: release.sh builds for $target on such a host; this one is $(rustc -vV | sed -n 's/^host: //p')" >&2
  exit 2
}
install() {
  local tool=$1 version=$2
  if ! grep -q "^\"$tool $version " ~/.cargo/.crates.toml 2>/dev/null; then
    echo "installing $tool $version (cargo install --locked)"
    cargo install --locked --quiet "$tool@$version"
  fi
}
install cargo-auditable 0.7.7
install cargo-cyclonedx 0.5.9
install cargo-audit 0.22.2
advisories=${ADVISORY_DB:-../shared/advisory-db}
[[ -d $advisories/crates ]] || { echo "error: no advisory database at $advisories (ADVISORY_DB)" >&2; exit 2; }

version=$(cargo metadata --format-version 1 --no-deps --locked |
  python3 -c 'import json,sys; print(next(p["version"] for p in json.load(sys.stdin)["packages"] if p["name"] == "idp"))')
commit=$(git rev-parse --short=12 HEAD)
if [[ -n $(git status --porcelain --untracked-files=no) ]]; then commit+=-dirty; fi
name=idp-$version-x86_64-linux
echo "release: idp $version (commit $commit)"

IDP_BUILD_COMMIT=$commit cargo auditable build --release --locked -p idp --bin idp
binary=target/release/idp
"$binary" --version | grep -qF "(commit $commit)" || {
  echo "error: the built binary does not name commit $commit: $("$binary" --version)" >&2
  exit 1
}

rm -rf dist
mkdir -p "dist/$name"
stage=dist/$name
cp "$binary" dist/idp
cp dist/idp README.md LICENSE-MIT LICENSE-APACHE "$stage/"

# The SBOM of the binary: idp's normal and build dependencies for the target it ships for.
SOURCE_DATE_EPOCH=$(git log -1 --format=%ct) cargo cyclonedx --manifest-path crates/idp/Cargo.toml \
  --format json --spec-version 1.5 --target "$target" --override-filename idp.cdx -q
# cargo cyclonedx writes one file beside every workspace member's Cargo.toml: idp's is the
# binary's; the others are dropped.
mv crates/idp/idp.cdx.json dist/idp.cdx.json
find crates tests -name idp.cdx.json -delete
cp dist/idp.cdx.json "$stage/"

# Every crate compiled into the binary (cargo tree, normal edges) is in the SBOM, and the
# licenses of each are gathered from its sources for THIRD-PARTY-LICENSES.txt.
cargo tree --locked -p idp -e normal --target "$target" --prefix none --format '{p}' | sort -u >dist/.crates
python3 - "$stage" <<'PY'
import json, os, re, subprocess, sys
stage = sys.argv[1]
sbom = json.load(open("dist/idp.cdx.json"))
listed = {(c["name"], c["version"]) for c in sbom.get("components", [])}
meta = sbom.get("metadata", {}).get("component", {})
listed.add((meta.get("name"), meta.get("version")))
crates = []
for line in open("dist/.crates"):
    m = re.match(r"(\S+) v(\S+)( \((.*)\))?", line.strip())
    if not m:
        continue
    if (m.group(1), m.group(2)) not in {(n, v) for n, v in crates}:
        crates.append((m.group(1), m.group(2)))
missing = [f"{n} {v}" for n, v in crates if (n, v) not in listed]
if missing:
    sys.exit("error: the SBOM misses crates built into idp: " + ", ".join(missing))
meta = json.loads(subprocess.check_output(
    ["cargo", "metadata", "--format-version", "1", "--locked", "--filter-platform", "x86_64-unknown-linux-gnu"]))
dirs = {(p["name"], p["version"]): (os.path.dirname(p["manifest_path"]), p.get("license"), p["source"])
        for p in meta["packages"]}
out = open(os.path.join(stage, "THIRD-PARTY-LICENSES.txt"), "w")
out.write("The crates built into idp besides its own, each with its license as its sources ship it.\n")
third = 0
for n, v in sorted(crates):
    d, lic, source = dirs[(n, v)]
    if source is None:
        continue  # idp's own crates: LICENSE-MIT, LICENSE-APACHE
    third += 1
    out.write(f"\n{'=' * 78}\n{n} {v} ({lic or 'license not declared'})\n{'=' * 78}\n")
    files = sorted(f for f in os.listdir(d) if re.match(r"(?i)(licen[cs]e|copying|notice|copyright)", f))
    for f in files:
        path = os.path.join(d, f)
        if os.path.isfile(path):
            out.write(f"\n--- {f}\n\n")
            out.write(open(path, encoding="utf-8", errors="replace").read())
    if not files:
        out.write("\n(no license file in the crate's sources; its manifest declares the license above)\n")
print(f"release: the SBOM lists all {len(crates)} crates built into idp ({third} third-party)")
PY
rm -f dist/.crates

tar -C dist --owner=0 --group=0 --numeric-owner --mtime="@$(git log -1 --format=%ct)" \
  -czf "dist/$name.tar.gz" "$name"
rm -rf "$stage"
(cd dist && sha256sum "$name.tar.gz" idp idp.cdx.json >SHA256SUMS && sha256sum -c --quiet SHA256SUMS)

# What a user's security team runs on the download; and the SBOM names exactly as many
# crates as the binary's own embedded list (normal and build dependencies, idp included).
cargo audit --db "$advisories" --no-fetch --stale bin dist/idp
embedded=$(cargo audit --db "$advisories" --no-fetch --stale --json bin dist/idp 2>/dev/null |
  python3 -c 'import json,sys; print(json.load(sys.stdin)["lockfile"]["dependency-count"])')
in_sbom=$(python3 -c 'import json; print(len(json.load(open("dist/idp.cdx.json"))["components"]) + 1)')
((embedded == in_sbom)) || {
  echo "error: the binary embeds $embedded crates, the SBOM lists $in_sbom" >&2
  exit 1
}
echo "release: the SBOM and the binary's embedded list agree: $embedded crates (normal and build dependencies)"
ls -l dist
echo "release: dist/$name.tar.gz, dist/SHA256SUMS, dist/idp.cdx.json (commit $commit)"
