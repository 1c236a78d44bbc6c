package main

import (
	"github.com/lothub/lothub/connectors/dynamics"
	"github.com/lothub/lothub/sdk"
)

func init() { builtins["dynamics"] = func() sdk.Connector { return dynamics.New() } }
