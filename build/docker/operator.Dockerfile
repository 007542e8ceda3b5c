# syntax=docker/dockerfile:1
# The operator image: nexus-operator, framework-dependent on ASP.NET Core's chiseled Ubuntu image (no shell, no package
# manager, no libtorch). Build from the repository root: make images (or the docker build line in docs/images.md).
#
# Framework-dependent rather than self-contained: the operator needs the ASP.NET Core shared framework (/healthz,
# /readyz, /metrics), so a self-contained publish carries the same runtime as the base image does, while trimming is
# not an option (KubernetesClient and System.CommandLine bind by reflection; warnings are errors here). The app layer is
# then a few MB on a base that Microsoft patches and that nodes share between pulls. See docs/images.md.

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0-noble
ARG RUNTIME_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0-noble-chiseled

FROM ${SDK_IMAGE} AS build
WORKDIR /src
# Restore first, from the project files alone, so a source change does not download the packages again.
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/LibTorchSharpCompat.targets build/GlibcxxCompat.cs build/
COPY src/Nexus.Api/Nexus.Api.csproj src/Nexus.Api/
COPY src/Nexus.Storage/Nexus.Storage.csproj src/Nexus.Storage/
COPY src/Nexus.Operator/Nexus.Operator.csproj src/Nexus.Operator/
RUN dotnet restore src/Nexus.Operator/Nexus.Operator.csproj
COPY src/Nexus.Api/ src/Nexus.Api/
COPY src/Nexus.Storage/ src/Nexus.Storage/
COPY src/Nexus.Operator/ src/Nexus.Operator/
RUN dotnet publish src/Nexus.Operator/Nexus.Operator.csproj -c Release --no-restore -p:SatelliteResourceLanguages=en -o /app \
    && test -x /app/nexus-operator \
    && if ls /app | grep -i -E 'torch'; then echo "libtorch or TorchSharp reached the operator image" >&2; exit 1; fi

FROM ${RUNTIME_IMAGE}
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown
LABEL org.opencontainers.image.title="nexus-operator" \
      org.opencontainers.image.description="Kubernetes operator for Nexus MoE models: Expert, NexusModel and Extension." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}"
WORKDIR /app
# Owned by root and not writable by the user it runs as.
COPY --from=build /app/ /app/
# The chart runs it with a read-only root filesystem; the operator writes nothing to disk.
ENV PATH=/app:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DOTNET_ROOT=/usr/share/dotnet
# Same fixed non-root user as the worker pods (WorkerPod.RunAsUser), so one restricted securityContext fits both.
USER 65532:65532
EXPOSE 8080
ENTRYPOINT ["nexus-operator"]
CMD ["run"]
