package graphs

// Pool shares loaded models between runs (a sweep's points): one Model per
// folder and session settings. The zero value is an empty pool ready to use.
// A Pool is not safe for concurrent use; the runs sharing a Model take turns
// anyway (SetTargets).
type Pool struct {
	models map[PoolKey]*Model
}

// PoolKey names a model in a Pool: its folder and the settings it loads
// with, Options without Runs (which says what to load of the graph, not how
// it computes).
type PoolKey struct {
	Dir                            string
	Device                         string
	IntraOpThreads, InterOpThreads int
	BFloat16, Float16              bool
	ConvGradient                   string
	Trust                          bool
}

// KeyOf is the key of the model in dir loaded with opts.
func KeyOf(dir string, opts Options) PoolKey {
	return PoolKey{Dir: dir, Device: opts.Device, IntraOpThreads: opts.IntraOpThreads, InterOpThreads: opts.InterOpThreads,
		BFloat16: opts.BFloat16, Float16: opts.Float16, ConvGradient: opts.ConvGradient, Trust: opts.Trust}
}

// Get returns the pool's model for key, calling load for it the first time.
// A failed load is returned and not kept: the next Get loads again.
func (p *Pool) Get(key PoolKey, load func() (*Model, error)) (*Model, error) {
	if m, ok := p.models[key]; ok {
		return m, nil
	}
	m, err := load()
	if err != nil {
		return nil, err
	}
	if p.models == nil {
		p.models = map[PoolKey]*Model{}
	}
	p.models[key] = m
	return m, nil
}
