package runner

import (
	"context"
	"fmt"
	"os"
	"time"

	"github.com/lothub/lothub/core"
)

// RecordConfigs records in the audit trail the configuration of each named
// connector (every one when none is named) whose hash differs from the
// last recorded: its settings as written in hub.yaml (secrets as their
// references, never their values) and its mapping file's content. hub sync
// records its connector's before it reads; hub serve every connector's as
// it starts.
func (r *Runner) RecordConfigs(ctx context.Context, names ...string) error {
	if len(names) == 0 {
		for _, cc := range r.Config.Connectors {
			names = append(names, cc.Name)
		}
	}
	for _, name := range names {
		cc, err := r.Config.Connector(name)
		if err != nil {
			return err
		}
		mapping, err := os.ReadFile(cc.Mapping)
		if err != nil {
			return core.Errorf(core.EINVALID, "connector %s: cannot read mapping %s: %v", name, cc.Mapping, err)
		}
		params := map[string]string{}
		for k, v := range cc.Config {
			params[k] = v.String() // a reference, or a literal that is no secret
		}
		settings := map[string]any{"plugin": cc.Plugin, "mapping": cc.Mapping, "schedule": cc.Schedule, "batch_size": cc.BatchSize,
			"timeout": time.Duration(cc.Timeout).String(), "max_retry": time.Duration(cc.MaxRetry).String(), "config": params,
			"mapping_sha256": core.ConfigHash(mapping)}
		hash := core.ConfigHash(core.MustJSON(settings))
		if _, err := core.RecordConfig(ctx, r.Store, "connector:"+name, hash, settings); err != nil {
			return fmt.Errorf("record the configuration of %s in the audit trail: %w", name, err)
		}
	}
	return nil
}
