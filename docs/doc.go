// Package docs holds no code: its tests keep the documents in this directory
// exact (the FORMAT.md example bytes and Python reader) against the code.
package docs
