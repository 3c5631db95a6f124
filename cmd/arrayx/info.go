package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"math"
	"strings"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
	"github.com/spf13/pflag"
)

// infoCmd prints an array's header, read with Store.Stat: the data is never
// mapped or read, so it costs the same for any array size.
type infoCmd struct {
	json   bool
	remote string
	netFlags
}

func (c *infoCmd) usage() (string, string) {
	return "NAME [--json] [--remote ADDR [--token-file F]]", "print an array's header (dtype, shape, order, sizes, attrs), of the store or a server"
}

func (c *infoCmd) addFlags(fs *pflag.FlagSet) {
	fs.BoolVar(&c.json, "json", false, "print a JSON object instead of key: value lines")
	fs.StringVar(&c.remote, "remote", "", "print the header of a server's array instead (HOST[:PORT], port 7070 by default, or unix:/path)")
	c.netFlags.addFlags(fs)
}

func (c *infoCmd) run(ctx context.Context, e *env, args []string) error {
	var h *arrayx.Header
	if len(args) == 1 && isFilePath(args[0]) && c.remote == "" {
		a, err := openFile(args[0])
		if err != nil {
			return err
		}
		h = a.Header()
		a.Close()
		return c.print(e, newArrayInfo(args[0], h), h)
	}
	name, err := arrayName(args)
	if err != nil {
		return err
	}
	if c.remote != "" {
		h, err = c.stat(ctx, e, name)
	} else {
		h, err = e.stat(name)
	}
	if err != nil {
		return err
	}
	return c.print(e, newArrayInfo(name, h), h)
}

func (c *infoCmd) print(e *env, info *arrayInfo, h *arrayx.Header) error {
	if c.json {
		return writeJSON(e.stdout, info)
	}
	return info.writeText(e.stdout, h.NumBlocks())
}

// stat asks the server for name's header.
func (c *infoCmd) stat(ctx context.Context, e *env, name string) (*arrayx.Header, error) {
	cl, _, err := c.dial(ctx, e, c.remote, "", 0)
	if err != nil {
		return nil, err
	}
	defer cl.Close()
	h, err := cl.Stat(ctx, name)
	if err != nil {
		return nil, remoteArrayError(c.remote, name, err)
	}
	return h, nil
}

// stat reads name's header from the store.
func (e *env) stat(name string) (*arrayx.Header, error) {
	st, err := e.openExistingStore()
	if err != nil {
		return nil, err
	}
	defer st.Close()
	h, err := st.Stat(name)
	if err != nil {
		return nil, arrayError(st, name, err)
	}
	return h, nil
}

// arrayInfo is the JSON form of an array's header, printed by info --json
// and, as a list, by ls --json. The CRC table is left out.
type arrayInfo struct {
	Name       string         `json:"name"`
	DType      string         `json:"dtype"`
	Shape      []int64        `json:"shape"`
	Order      string         `json:"order"`
	NBytes     int64          `json:"nbytes"`
	DataOffset int64          `json:"data_offset"`
	BlockSize  int64          `json:"block_size"`
	Sealed     bool           `json:"sealed"`
	Attrs      map[string]any `json:"attrs"`            // {} when the array has none
	Digest     string         `json:"digest,omitempty"` // ls --digests only
}

func newArrayInfo(name string, h *arrayx.Header) *arrayInfo {
	attrs := make(map[string]any, len(h.Attrs))
	for k, v := range h.Attrs {
		attrs[k] = jsonable(v)
	}
	return &arrayInfo{
		Name:       name,
		DType:      h.DType.String(),
		Shape:      append(make([]int64, 0, len(h.Shape)), h.Shape...),
		Order:      h.Order.String(),
		NBytes:     h.NBytes,
		DataOffset: h.DataOffset,
		BlockSize:  h.BlockSize,
		Sealed:     h.Sealed,
		Attrs:      attrs,
	}
}

func (a *arrayInfo) writeText(w io.Writer, blocks int) error {
	attrs, err := json.Marshal(a.Attrs)
	if err != nil {
		return fmt.Errorf("%s: attrs: %w", a.Name, err)
	}
	var b strings.Builder
	line := func(k string, v any) { fmt.Fprintf(&b, "%-12s %v\n", k+":", v) }
	line("name", a.Name)
	line("dtype", a.DType)
	line("shape", arrayx.Shape(a.Shape))
	line("order", a.Order)
	line("nbytes", fmt.Sprintf("%d (%s)", a.NBytes, humanBytes(a.NBytes)))
	line("data_offset", a.DataOffset)
	line("block_size", a.BlockSize)
	line("blocks", blocks)
	line("sealed", a.Sealed)
	line("attrs", string(attrs))
	_, err = io.WriteString(w, b.String())
	return err
}

func writeJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

// jsonable makes a decoded msgpack attr value encodable as JSON: maps with
// non-string keys get their keys formatted, and NaN and infinities, which
// JSON lacks, become the strings "NaN", "+Inf", "-Inf".
func jsonable(v any) any {
	switch v := v.(type) {
	case map[string]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[k] = jsonable(x)
		}
		return m
	case map[any]any:
		m := make(map[string]any, len(v))
		for k, x := range v {
			m[fmt.Sprint(k)] = jsonable(x)
		}
		return m
	case []any:
		s := make([]any, len(v))
		for i, x := range v {
			s[i] = jsonable(x)
		}
		return s
	case float64:
		if math.IsNaN(v) || math.IsInf(v, 0) {
			return fmt.Sprint(v)
		}
	case float32:
		if math.IsNaN(float64(v)) || math.IsInf(float64(v), 0) {
			return fmt.Sprint(v)
		}
	}
	return v
}

// arrayName returns the single NAME argument of a verb. A missing or extra
// argument, or a name that breaks the store's naming rules, is a usage error.
func arrayName(args []string) (string, error) {
	switch {
	case len(args) == 0:
		return "", usagef("missing array NAME")
	case len(args) > 1:
		return "", usagef("want one array NAME, got %d arguments: %s", len(args), strings.Join(args, " "))
	}
	if err := storeName(args[0]); err != nil {
		return "", err
	}
	return args[0], nil
}

// noArrayError reports a name with no array behind it in one clear line; it
// unwraps to the store's error, which wraps fs.ErrNotExist.
type noArrayError struct {
	name, dir string
	err       error
}

func (e *noArrayError) Error() string { return fmt.Sprintf("no array %q in store %s", e.name, e.dir) }
func (e *noArrayError) Unwrap() error { return e.err }

// arrayError turns a store error about name into the CLI's message.
func arrayError(st *mmapstore.Store, name string, err error) error {
	if errors.Is(err, fs.ErrNotExist) {
		return &noArrayError{name: name, dir: st.Dir(), err: err}
	}
	return err
}
