package main

import (
	"fmt"
	"text/tabwriter"
	"time"

	"github.com/arrayx/arrayx/arrayx"
	"github.com/arrayx/arrayx/mmapstore"
)

// hiddenInfo is one temporary or partial file in ls --all --json.
type hiddenInfo struct {
	Path     string    `json:"path"`
	Array    string    `json:"array"`
	Kind     string    `json:"kind"` // "temp" or "partial"
	Bytes    int64     `json:"bytes"`
	Modified time.Time `json:"modified"`
	Live     bool      `json:"live"`
	NBytes   *int64    `json:"nbytes,omitempty"`   // partials: the array's data bytes
	Verified *int64    `json:"verified,omitempty"` // partials: data bytes a resume keeps
}

// listAll prints the arrays, then the files in progress that ls hides:
// writers' temporary files and partial transfers, each marked live or dead,
// each partial with how much of it verifies, and their total.
func (c *lsCmd) listAll(e *env, st *mmapstore.Store, infos []*arrayInfo) error {
	hidden, herr := st.Hidden()
	if c.json {
		out := struct {
			Arrays []*arrayInfo  `json:"arrays"`
			Hidden []*hiddenInfo `json:"hidden"`
		}{infos, make([]*hiddenInfo, 0, len(hidden))}
		for _, h := range hidden {
			hi := &hiddenInfo{Path: h.Path, Array: h.Name, Kind: "temp", Bytes: h.Size, Modified: h.ModTime, Live: h.Live}
			if h.Partial {
				hi.Kind, hi.NBytes, hi.Verified = "partial", &h.NBytes, &h.Verified
			}
			out.Hidden = append(out.Hidden, hi)
		}
		if err := writeJSON(e.stdout, out); err != nil {
			return err
		}
		return herr
	}
	tw := tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, a := range infos {
		fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", a.Name, a.DType, arrayx.Shape(a.Shape), humanBytes(a.NBytes))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	var total int64
	tw = tabwriter.NewWriter(e.stdout, 0, 0, 2, ' ', 0)
	for _, h := range hidden {
		total += h.Size
		var what string
		switch {
		case h.Partial:
			what = fmt.Sprintf("partial\t%s\tverified %s of %s", h.Name, humanBytes(h.Verified), humanBytes(h.NBytes))
			if h.Live {
				what += ", live transfer"
			}
		case h.Live:
			what = fmt.Sprintf("temp\t%s\tlive writer", h.Name)
		default:
			what = fmt.Sprintf("temp\t%s\tdead writer", h.Name)
		}
		fmt.Fprintf(tw, "%s\t%s\t%s, %s old\n", h.Path, humanBytes(h.Size), what, time.Since(h.ModTime).Round(time.Second))
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	fmt.Fprintf(e.stdout, "hidden: %d %s, %s\n", len(hidden), plural(len(hidden), "file"), humanBytes(total))
	return herr
}
