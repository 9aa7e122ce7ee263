package cli

import (
	"bytes"
	"fmt"
	"log/slog"
	"os"
	"runtime"
	"runtime/pprof"
	"time"
)

// startMemProfile watches the process's resident set each second and,
// whenever it is the largest seen so far, keeps a heap profile and the Go
// runtime's memory figures of that moment; the returned function stops
// watching, writes the kept profile to path and logs the figures. The
// profile is the one closest to the process's peak, which is what a memory
// regression is about (a profile at exit misses what a phase held and
// released); the figures tell the Go heap from memory outside it.
func startMemProfile(path string, logger *slog.Logger) func() {
	stop, done := make(chan struct{}), make(chan struct{})
	var best bytes.Buffer
	var peak uint64
	var at runtime.MemStats
	snapshot := func() {
		rss := residentBytes()
		if rss <= peak {
			return
		}
		peak = rss
		runtime.ReadMemStats(&at)
		best.Reset()
		if err := pprof.Lookup("heap").WriteTo(&best, 0); err != nil {
			logger.Warn("take a heap profile", "err", err)
		}
	}
	go func() {
		defer close(done)
		t := time.NewTicker(time.Second)
		defer t.Stop()
		for {
			select {
			case <-stop:
				snapshot()
				return
			case <-t.C:
				snapshot()
			}
		}
	}()
	return func() {
		close(stop)
		<-done
		if err := os.WriteFile(path, best.Bytes(), 0o600); err != nil {
			logger.Warn("write the heap profile", "path", path, "err", err)
			return
		}
		logger.Warn("wrote the heap profile at the peak resident set", "path", path, "rssMB", peak>>20,
			"heapAllocMB", at.HeapAlloc>>20, "heapInuseMB", at.HeapInuse>>20, "heapSysMB", at.HeapSys>>20,
			"heapReleasedMB", at.HeapReleased>>20, "goSysMB", at.Sys>>20, "numGC", at.NumGC)
	}
}

// residentBytes is the process's resident set (Linux /proc/self/statm);
// 0 elsewhere.
func residentBytes() uint64 {
	b, err := os.ReadFile("/proc/self/statm")
	if err != nil {
		return 0
	}
	var size, rss uint64
	if _, err := fmt.Sscan(string(b), &size, &rss); err != nil {
		return 0
	}
	return rss * uint64(os.Getpagesize())
}
