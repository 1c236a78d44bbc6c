package main

import (
	"github.com/lothub/lothub/connectors/sap"
	"github.com/lothub/lothub/sdk"
)

func init() { builtins["sap"] = func() sdk.Connector { return sap.New() } }
