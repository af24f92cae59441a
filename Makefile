# Thin wrapper over CMake. `make run` and `make test` set up everything they
# need on a fresh Debian 12 machine (see README.md).
BUILD      ?= build
BUILD_TYPE ?= RelWithDebInfo
JOBS       ?= $(shell nproc)
# make test SANITIZE=address,undefined  -> separate build in build-asan
ifneq ($(SANITIZE),)
BUILD      := build-asan
BUILD_TYPE := Debug
endif

.PHONY: all deps test-deps build run test clean web peers

all: build

deps:
	@scripts/install-deps.sh

test-deps:
	@scripts/install-deps.sh --test

$(BUILD)/CMakeCache.txt: CMakeLists.txt
	cmake -S . -B $(BUILD) -DCMAKE_BUILD_TYPE=$(BUILD_TYPE) -DTC_SANITIZE=$(SANITIZE)

build: deps $(BUILD)/CMakeCache.txt
	cmake -S . -B $(BUILD) >/dev/null
	cmake --build $(BUILD) -j $(JOBS)

web:
	@if [ -f web/package.json ]; then scripts/build-web.sh; fi

peers:
	@scripts/install-peers.sh

run: build web
	@scripts/run.sh $(BUILD)/bin/toolconnect

test: test-deps peers build web
	cd $(BUILD) && ctest --output-on-failure -j $(JOBS) --timeout 900

clean:
	rm -rf build build-asan
