package main

import "testing"

// The rest connector is built in: hub plugin rest serves it.
func TestRestBuiltin(t *testing.T) {
	f, ok := builtins["rest"]
	if !ok {
		t.Fatal("rest is not a built-in connector")
	}
	if got := f().Spec().Name; got != "rest" {
		t.Errorf("spec name %q", got)
	}
}
