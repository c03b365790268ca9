# postern - the two-command quick start and the usual targets.
#   make run    install what is missing, build, run the dev default
#   make test   install what is missing, build with ASan+UBSan, run all tests
# Everything else is a wrapper around CMake (build dirs: build*, never in-source).

PREFIX  ?= /usr/local
DESTDIR ?=
JOBS    ?= $(shell nproc 2>/dev/null || echo 2)
FUZZ_SECONDS ?= 10
PYTEST_ARGS ?=
PYTHON  := /usr/bin/python3

.PHONY: all build deps deps-test run test unit integration fuzz fuzz-smoke \
	install clean bench

all: build

deps:
	@sh dist/deps.sh build

deps-test:
	@sh dist/deps.sh test

# The release build is the daemon only: tests need cmocka (deps-test).
build/CMakeCache.txt:
	cmake -S . -B build -DCMAKE_BUILD_TYPE=RelWithDebInfo -DPOSTERN_BUILD_TESTS=OFF

build: deps build/CMakeCache.txt
	cmake --build build -j$(JOBS)

run: build
	./build/postern serve --dev

build-asan/CMakeCache.txt:
	cmake -S . -B build-asan -DCMAKE_BUILD_TYPE=Debug -DPOSTERN_SANITIZE=ON

asan: deps-test build-asan/CMakeCache.txt
	cmake --build build-asan -j$(JOBS)

unit: asan
	ctest --test-dir build-asan --output-on-failure -j$(JOBS)

integration: asan
	POSTERN_BIN=$(CURDIR)/build-asan/postern $(PYTHON) -m pytest -q \
		-p no:cacheprovider tests/integration $(PYTEST_ARGS)

build-fuzz/CMakeCache.txt:
	CC=clang cmake -S . -B build-fuzz -DCMAKE_BUILD_TYPE=Debug \
		-DPOSTERN_FUZZ=ON -DPOSTERN_BUILD_TESTS=OFF

fuzz: deps-test build-fuzz/CMakeCache.txt
	cmake --build build-fuzz -j$(JOBS)

# Each libFuzzer target runs FUZZ_SECONDS from a scratch copy of its corpus.
fuzz-smoke: fuzz
	@sh tests/fuzz/smoke.sh build-fuzz $(FUZZ_SECONDS)

test: unit integration fuzz-smoke
	@echo "make test: all suites passed"

bench: build
	$(PYTHON) tests/bench/startup_rss.py --bin ./build/postern

install: build
	DESTDIR=$(DESTDIR) cmake --install build --prefix $(PREFIX)

clean:
	rm -rf build build-asan build-fuzz
