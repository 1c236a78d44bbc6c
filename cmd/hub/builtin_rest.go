package main

import (
	"github.com/lothub/lothub/connectors/rest"
	"github.com/lothub/lothub/sdk"
)

func init() { builtins["rest"] = func() sdk.Connector { return rest.New() } }
