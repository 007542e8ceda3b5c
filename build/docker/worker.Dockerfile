# syntax=docker/dockerfile:1
# The worker image: the nexus CLI with TorchSharp and libtorch. The operator's Jobs run `nexus <step> ...` in it, and
# serving Deployments `nexus serve ...`. Build from the repository root: make images (docs/images.md).
#
#   CPU (default):  docker build -f build/docker/worker.Dockerfile .
#   CUDA:           docker build -f build/docker/worker.Dockerfile --build-arg TORCH_BACKEND=cuda \
#                     --build-arg BASE_IMAGE=nvidia/cuda:12.8.1-base-ubuntu24.04 .
#
# Both bases are Ubuntu 24.04 (noble), like the SDK and the .NET runtime copied in, so one final stage serves both.
# libtorch brings its own CUDA libraries (cuBLAS, cuDNN ...), so the CUDA base only needs the driver hooks of a "base"
# image, not "runtime" or "cudnn".

ARG SDK_IMAGE=mcr.microsoft.com/dotnet/sdk:10.0-noble
ARG DOTNET_IMAGE=mcr.microsoft.com/dotnet/aspnet:10.0-noble
ARG BASE_IMAGE=ubuntu:24.04

FROM ${SDK_IMAGE} AS build
# cpu (TorchSharp-cpu) or cuda (TorchSharp-cuda-linux); build/TorchSharp.props rejects anything else.
ARG TORCH_BACKEND=cpu
WORKDIR /src
COPY Directory.Build.props Directory.Build.targets Directory.Packages.props ./
COPY build/LibTorchSharpCompat.targets build/GlibcxxCompat.cs build/TorchSharp.props build/
COPY src/Nexus.Storage/Nexus.Storage.csproj src/Nexus.Storage/
COPY src/Nexus.Model/Nexus.Model.csproj src/Nexus.Model/
COPY src/Nexus.Training/Nexus.Training.csproj src/Nexus.Training/
COPY src/Nexus.Serving/Nexus.Serving.csproj src/Nexus.Serving/
COPY src/Nexus.Api/Nexus.Api.csproj src/Nexus.Api/
COPY src/Nexus.ApiServer/Nexus.ApiServer.csproj src/Nexus.ApiServer/
COPY src/Nexus.Operator/Nexus.Operator.csproj src/Nexus.Operator/
COPY src/Nexus.Local/Nexus.Local.csproj src/Nexus.Local/
COPY src/Nexus.Cli/Nexus.Cli.csproj src/Nexus.Cli/
RUN dotnet restore src/Nexus.Cli/Nexus.Cli.csproj -p:TorchBackend=${TORCH_BACKEND}
COPY src/Nexus.Storage/ src/Nexus.Storage/
COPY src/Nexus.Model/ src/Nexus.Model/
COPY src/Nexus.Training/ src/Nexus.Training/
COPY src/Nexus.Serving/ src/Nexus.Serving/
COPY src/Nexus.Api/ src/Nexus.Api/
COPY src/Nexus.ApiServer/ src/Nexus.ApiServer/
COPY src/Nexus.Operator/ src/Nexus.Operator/
# nexus run embeds the CRDs it installs (src/Nexus.Local).
COPY crds/ crds/
COPY src/Nexus.Local/ src/Nexus.Local/
COPY src/Nexus.Cli/ src/Nexus.Cli/
RUN dotnet publish src/Nexus.Cli/Nexus.Cli.csproj -c Release --no-restore -p:TorchBackend=${TORCH_BACKEND} \
    -p:SatelliteResourceLanguages=en -o /app \
    && test -x /app/nexus \
    && test -e /app/libtorch.so \
    && rm -f /app/libtorch_python.so /app/libnnapi_backend.so /app/libtorchbind_test.so /app/libjitbackend_test.so \
             /app/libbackend_with_compiler.so /app/libaoti_custom_ops.so
# Removed above: libtorch's Python bindings and its test and mobile backends, which TorchSharp never loads (about
# 33 MB; `nexus train` and `nexus generate` checked without them, docs/images.md).

# The .NET and ASP.NET Core runtimes (nexus serve is Kestrel), copied rather than installed so the CUDA base needs no
# Microsoft package feed.
FROM ${DOTNET_IMAGE} AS dotnet

FROM ${BASE_IMAGE}
ARG TORCH_BACKEND=cpu
ARG VERSION=dev
ARG REVISION=unknown
ARG SOURCE=unknown
# TLS for s3:// (libssl), the CA bundle, and libstdc++ for libtorch and .NET. libtorch carries its own libgomp; .NET
# its own zlib; no ICU (InvariantGlobalization is on).
RUN apt-get update \
    && apt-get install -y --no-install-recommends ca-certificates libssl3t64 libstdc++6 \
    && rm -rf /var/lib/apt/lists/*
COPY --from=dotnet /usr/share/dotnet /usr/share/dotnet
COPY --from=build /app/ /app/
LABEL org.opencontainers.image.title="nexus-worker" \
      org.opencontainers.image.description="The nexus CLI (TorchSharp, libtorch ${TORCH_BACKEND}): the operator's step Jobs and nexus serve." \
      org.opencontainers.image.version="${VERSION}" \
      org.opencontainers.image.revision="${REVISION}" \
      org.opencontainers.image.source="${SOURCE}" \
      moe.nexus.torch-backend="${TORCH_BACKEND}"
# HOME and TMPDIR are the pod's writable emptyDir (WorkerPod.Environment); the root filesystem is read-only there.
# /tmp is only the fallback for a plain docker run.
ENV PATH=/app:/usr/local/sbin:/usr/local/bin:/usr/sbin:/usr/bin:/sbin:/bin \
    DOTNET_ROOT=/usr/share/dotnet \
    HOME=/tmp \
    TMPDIR=/tmp
# distroless's nonroot, like the pods' securityContext (WorkerPod.RunAsUser). No passwd entry is needed.
USER 65532:65532
WORKDIR /tmp
EXPOSE 8080
ENTRYPOINT ["nexus"]
CMD ["--help"]
