package main

import (
	"github.com/lothub/lothub/connectors/filedrop"
	"github.com/lothub/lothub/sdk"
)

func init() { builtins["filedrop"] = func() sdk.Connector { return filedrop.New() } }
