package main

import (
	"github.com/lothub/lothub/connectors/netsuite"
	"github.com/lothub/lothub/sdk"
)

func init() { builtins["netsuite"] = func() sdk.Connector { return netsuite.New() } }
