package main

import "github.com/arrayx/arrayx/mmapstore"

// openExistingStore opens the store selected by --store for a verb that
// only reads it (or removes from it): a mistyped directory is reported as
// missing ("store DIR does not exist"), never created.
func (e *env) openExistingStore() (*mmapstore.Store, error) {
	return mmapstore.OpenStore(e.storeDir, &mmapstore.Options{NoCreate: true})
}

// openStoreWith opens the store selected by --store with opts.
func (e *env) openStoreWith(opts *mmapstore.Options) (*mmapstore.Store, error) {
	return mmapstore.OpenStore(e.storeDir, opts)
}
