//go:build !race

package worker

// raceDetector tells whether the test binary was built with -race, which slows the in-process Temporal server
// several times over.
const raceDetector = false
