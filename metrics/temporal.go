package metrics

import (
	"math"
	"slices"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"go.temporal.io/sdk/client"
)

// The Temporal SDK reports its metrics to a client.MetricsHandler (counters, gauges and timers with tags).
// The SDK's documented bridge to Prometheus is go.temporal.io/sdk/contrib/tally with tally's Prometheus
// reporter; that module is not available from the module proxy this project builds with, and the
// OpenTelemetry bridge would bring a second metrics SDK for three kinds of instrument. So this adapter
// feeds client_golang directly, with Prometheus's naming: a counter "temporal_request" is exposed as
// temporal_request_total, a timer "temporal_workflow_task_execution_latency" as the histogram
// temporal_workflow_task_execution_latency_seconds, a gauge under its own name.
//
// The SDK does not tag every use of a metric alike (a request counter with or without an operation, a
// task latency with or without a workflow type), which a Prometheus metric family does not allow: a
// family's series carry the union of the tag names seen for it, empty where a call did not set one.

// timerBuckets are the upper bounds, in seconds, of the SDK's latency histograms: from a millisecond's
// task to a schedule-to-start of minutes.
var timerBuckets = []float64{0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 120, 300, 600}

type kind int

const (
	kindCounter kind = iota
	kindGauge
	kindTimer
)

// temporalCollector holds the SDK's series and sends them at a scrape.
type temporalCollector struct {
	mu       sync.Mutex
	families map[string]*family // by exposed name
}

type family struct {
	kind   kind
	keys   map[string]bool    // union of the tag names of its series
	series map[string]*series // by tags
}

type series struct {
	tags  map[string]string
	value atomic.Uint64 // counter: the count; gauge: math.Float64bits
	mu    sync.Mutex    // timer
	count uint64
	sum   float64
	upper []uint64 // per bucket of timerBuckets (not cumulative)
}

func newTemporalCollector() *temporalCollector {
	return &temporalCollector{families: map[string]*family{}}
}

// Describe sends nothing: the families are known only as the SDK uses them (an unchecked collector).
func (c *temporalCollector) Describe(chan<- *prometheus.Desc) {}

// Collect sends every series, each family with the union of its tag names.
func (c *temporalCollector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for name, f := range c.families {
		keys := make([]string, 0, len(f.keys))
		for k := range f.keys {
			keys = append(keys, k)
		}
		sort.Strings(keys)
		d := prometheus.NewDesc(name, "Temporal SDK metric "+name+".", keys, nil)
		for _, s := range f.series {
			values := make([]string, len(keys))
			for i, k := range keys {
				values[i] = s.tags[k]
			}
			switch f.kind {
			case kindCounter:
				ch <- prometheus.MustNewConstMetric(d, prometheus.CounterValue, float64(s.value.Load()), values...)
			case kindGauge:
				ch <- prometheus.MustNewConstMetric(d, prometheus.GaugeValue, math.Float64frombits(s.value.Load()), values...)
			case kindTimer:
				s.mu.Lock()
				buckets := make(map[float64]uint64, len(timerBuckets))
				var cum uint64
				for i, ub := range timerBuckets {
					cum += s.upper[i]
					buckets[ub] = cum
				}
				ch <- prometheus.MustNewConstHistogram(d, s.count, s.sum, buckets, values...)
				s.mu.Unlock()
			}
		}
	}
}

// get returns the series of name with tags, made on first use; nil when name is already a family of
// another kind.
func (c *temporalCollector) get(k kind, name string, tags map[string]string, id string) *series {
	c.mu.Lock()
	defer c.mu.Unlock()
	f := c.families[name]
	if f == nil {
		f = &family{kind: k, keys: map[string]bool{}, series: map[string]*series{}}
		c.families[name] = f
	}
	if f.kind != k {
		return nil
	}
	s := f.series[id]
	if s == nil {
		s = &series{tags: tags}
		if k == kindTimer {
			s.upper = make([]uint64, len(timerBuckets))
		}
		for t := range tags {
			f.keys[t] = true
		}
		f.series[id] = s
	}
	return s
}

// sdkHandler is the client.MetricsHandler of a Registry; WithTags gives one with more tags.
type sdkHandler struct {
	c    *temporalCollector
	tags map[string]string // label names sanitized
	id   string            // the tags, sorted, as one string
}

var _ client.MetricsHandler = (*sdkHandler)(nil)

func (h *sdkHandler) WithTags(tags map[string]string) client.MetricsHandler {
	merged := make(map[string]string, len(h.tags)+len(tags))
	for k, v := range h.tags {
		merged[k] = v
	}
	for k, v := range tags {
		merged[sanitize(k)] = v
	}
	keys := make([]string, 0, len(merged))
	for k := range merged {
		keys = append(keys, k)
	}
	slices.Sort(keys)
	var b strings.Builder
	for _, k := range keys {
		b.WriteString(k)
		b.WriteByte('=')
		b.WriteString(merged[k])
		b.WriteByte(0xff)
	}
	return &sdkHandler{c: h.c, tags: merged, id: b.String()}
}

func (h *sdkHandler) Counter(name string) client.MetricsCounter {
	s := h.c.get(kindCounter, sanitize(name)+"_total", h.tags, h.id)
	return counterFunc(func(d int64) {
		if s != nil && d > 0 {
			s.value.Add(uint64(d))
		}
	})
}

func (h *sdkHandler) Gauge(name string) client.MetricsGauge {
	s := h.c.get(kindGauge, sanitize(name), h.tags, h.id)
	return gaugeFunc(func(v float64) {
		if s != nil {
			s.value.Store(math.Float64bits(v))
		}
	})
}

func (h *sdkHandler) Timer(name string) client.MetricsTimer {
	s := h.c.get(kindTimer, sanitize(name)+"_seconds", h.tags, h.id)
	return timerFunc(func(d time.Duration) {
		if s == nil {
			return
		}
		v := d.Seconds()
		i := sort.SearchFloat64s(timerBuckets, v) // the first bucket whose bound is ≥ v
		s.mu.Lock()
		s.count++
		s.sum += v
		if i < len(s.upper) {
			s.upper[i]++
		}
		s.mu.Unlock()
	})
}

type (
	counterFunc func(int64)
	gaugeFunc   func(float64)
	timerFunc   func(time.Duration)
)

func (f counterFunc) Inc(d int64)          { f(d) }
func (f gaugeFunc) Update(v float64)       { f(v) }
func (f timerFunc) Record(d time.Duration) { f(d) }

// sanitize makes s a valid Prometheus metric or label name: [a-zA-Z0-9_], not starting with a digit.
func sanitize(s string) string {
	b := []byte(s)
	for i, r := range b {
		ok := r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || (i > 0 && r >= '0' && r <= '9')
		if !ok {
			b[i] = '_'
		}
	}
	return string(b)
}
