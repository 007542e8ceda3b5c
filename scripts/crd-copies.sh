#!/usr/bin/env bash
# Writes the copies of crds/ that the installs use (run by `make crds` after it regenerates crds/; HelmChartTests fails
# while a copy is stale):
#   charts/nexus-operator/templates/crds/  the CRDs as Helm templates, so `helm upgrade` upgrades them (a chart's crds/
#                                          folder is installed once and never upgraded): gated by crds.install, and
#                                          annotated helm.sh/resource-policy: keep while crds.keep is true, so
#                                          uninstalling the release does not delete every Expert, NexusModel and Extension.
#   config/crd/bases/                      the same CRDs, unchanged, for the kustomize base (kustomize loads no file
#                                          outside its root).
set -euo pipefail
root="$(cd "$(dirname "$0")/.." && pwd)"
chart="$root/charts/nexus-operator/templates/crds"
bases="$root/config/crd/bases"
mkdir -p "$chart" "$bases"
rm -f "$chart"/*.yaml "$bases"/*.yaml
for source in "$root"/crds/*.yaml; do
  name="$(basename "$source")"
  cp "$source" "$bases/$name"
  {
    echo '{{- if .Values.crds.install }}'
    # The annotations go right after metadata:, which the generated CRDs open with only a name.
    sed -e '/^metadata:$/a\
  {{- if .Values.crds.keep }}\
  annotations:\
    helm.sh/resource-policy: keep\
  {{- end }}' "$source"
    printf '\n{{- end }}\n'
  } > "$chart/$name"
done
