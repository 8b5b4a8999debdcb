// Package scrape reads a Prometheus /metrics endpoint for tests, with
// Prometheus's own text-format parser (prometheus/common/expfmt), into
// values that go-cmp can compare.
package scrape

import (
	"fmt"
	"net/http"
	"slices"
	"strings"

	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/prometheus/common/model"
)

// Series maps one series, written as name{label="value",...} with its
// labels sorted, to its value: a counter's or gauge's value, or a
// histogram's observation count (as name_count{...}; sums and buckets,
// which hold times, are left out).
type Series map[string]float64

// Get scrapes url and returns the series of the families whose names
// start with prefix. Safe for concurrent use.
func Get(url, prefix string) (Series, error) {
	res, err := http.Get(url)
	if err != nil {
		return nil, err
	}
	defer res.Body.Close()
	if res.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("GET %s: %s", url, res.Status)
	}
	p := expfmt.NewTextParser(model.UTF8Validation)
	families, err := p.TextToMetricFamilies(res.Body)
	if err != nil {
		return nil, fmt.Errorf("GET %s: %w", url, err)
	}
	out := Series{}
	for name, f := range families {
		if !strings.HasPrefix(name, prefix) {
			continue
		}
		for _, m := range f.GetMetric() {
			labels := make([]string, 0, len(m.GetLabel()))
			for _, l := range m.GetLabel() {
				labels = append(labels, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			slices.Sort(labels)
			key := "{" + strings.Join(labels, ",") + "}"
			switch f.GetType() {
			case dto.MetricType_COUNTER:
				out[name+key] = m.GetCounter().GetValue()
			case dto.MetricType_GAUGE:
				out[name+key] = m.GetGauge().GetValue()
			case dto.MetricType_HISTOGRAM:
				out[name+"_count"+key] = float64(m.GetHistogram().GetSampleCount())
			default:
				return nil, fmt.Errorf("%s: type %s not read", name, f.GetType())
			}
		}
	}
	return out, nil
}

// Family returns the series of s named name (for a histogram,
// name_count).
func (s Series) Family(name string) Series {
	out := Series{}
	for k, v := range s {
		if strings.HasPrefix(k, name+"{") {
			out[k] = v
		}
	}
	return out
}

// Without returns s with the label name left out of every series.
func (s Series) Without(name string) Series {
	out := Series{}
	for k, v := range s {
		open := strings.Index(k, "{")
		var kept []string
		for _, l := range strings.Split(strings.Trim(k[open:], "{}"), ",") {
			if l != "" && !strings.HasPrefix(l, name+"=") {
				kept = append(kept, l)
			}
		}
		out[k[:open]+"{"+strings.Join(kept, ",")+"}"] += v
	}
	return out
}
