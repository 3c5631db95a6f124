// Package docs holds no code: its tests keep the documents in this directory
// exact against the code (the FORMAT.md example bytes and Python reader, and
// STORE.md's file names, locks and protocols, checked by behaviour).
package docs
