package graphs

import (
	"crypto/sha256"
	"encoding/binary"
)

// featureCache keeps features already computed, so the points of a sweep
// that share a model and differ only in weights, optimizer or iterations
// reuse their content activations and style Grams instead of running the
// network again. Entries are keyed by a hash of the picture's data and size
// and the output's key; the oldest go first past a byte budget.
type featureCache struct {
	entries map[cacheKey]Tensor
	order   []cacheKey
	bytes   int64
	hits    int
}

type cacheKey struct {
	picture [sha256.Size]byte
	output  string
}

// featureCacheBytes bounds the cached tensors' memory (C memory, held by
// TensorFlow); one 512x512 conv4_2 activation is 8 MiB.
const featureCacheBytes = 256 << 20

func pictureKey(img []float32, width, height int) [sha256.Size]byte {
	h := sha256.New()
	var wh [16]byte
	binary.LittleEndian.PutUint64(wh[:8], uint64(width))
	binary.LittleEndian.PutUint64(wh[8:], uint64(height))
	h.Write(wh[:])
	h.Write(floatBytes(img))
	var k [sha256.Size]byte
	h.Sum(k[:0])
	return k
}

func (c *featureCache) get(k cacheKey) (Tensor, bool) {
	t, ok := c.entries[k]
	if ok {
		c.hits++
	}
	return t, ok
}

func (c *featureCache) put(k cacheKey, t Tensor) {
	if c.entries == nil {
		c.entries = map[cacheKey]Tensor{}
	}
	if _, ok := c.entries[k]; ok {
		return
	}
	size := tensorBytes(t)
	for c.bytes+size > featureCacheBytes && len(c.order) > 0 {
		old := c.order[0]
		c.order = c.order[1:]
		c.bytes -= tensorBytes(c.entries[old])
		delete(c.entries, old)
	}
	c.entries[k] = t
	c.order = append(c.order, k)
	c.bytes += size
}

func tensorBytes(t Tensor) int64 {
	n := int64(4)
	for _, d := range t.t.Shape() {
		n *= d
	}
	return n
}
