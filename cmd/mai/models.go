package main

import (
	"context"
	"fmt"
	"strings"
	"text/tabwriter"

	"github.com/maicompanion/mai/internal/approval"
	"github.com/maicompanion/mai/internal/audit"
	"github.com/maicompanion/mai/internal/control"
	"github.com/maicompanion/mai/internal/gpu"
	"github.com/maicompanion/mai/internal/router"
	"github.com/maicompanion/mai/internal/switchlog"
)

const modelsExamples = `  mai models list                        # installed models on every backend
  mai models status --json               # the VRAM plan: pools, candidates, fit
  mai models switch ollama:llama3.2:3b   # load it, answer with it, and keep it pinned
  mai models switch --auto               # unpin: the router chooses again
  mai models probe                       # GPU/VRAM and backend reachability`

// modelsCommand is the models group; list is its default.
func modelsCommand() command {
	return command{name: "models", summary: "list models, show the VRAM plan, switch or probe", config: true, dflt: "list", examples: modelsExamples,
		subs: []command{
			{name: "list", summary: "installed models on every backend", run: modelsReader("list", "the models", (*Main).modelsList)},
			{name: "status", summary: "the VRAM plan: pools, loaded models, ranked candidates and why each fits or not", run: modelsReader("status", "the plan", (*Main).modelsStatus)},
			{name: "switch", summary: "load a model and pin it (--auto unpins)", run: (*Main).runModelsSwitch},
			{name: "probe", summary: "GPU/VRAM and backend reachability", run: modelsReader("probe", "the probe", (*Main).modelsProbe)},
		}}
}

// modelsReader is a read-only models subcommand that takes only --json:
// it opens the models for reading and hands them to show.
func modelsReader(sub, what string, show func(m *Main, ctx context.Context, ms *models, asJSON bool) error) func(*Main, context.Context, []string) error {
	return func(m *Main, ctx context.Context, args []string) error {
		fs := m.newFlagSet("models "+sub, "models "+sub+" [--json]", modelsExamples)
		asJSON := fs.Bool("json", false, "print "+what+" as JSON")
		if _, err := m.parse(fs, args, 0); err != nil {
			return err
		}
		ms, err := m.openModels(ctx, readOnly)
		if err != nil {
			return err
		}
		defer ms.close()
		return show(m, ctx, ms, *asJSON)
	}
}

func (m *Main) runModelsSwitch(ctx context.Context, args []string) error {
	fs := m.newFlagSet("models switch", "models switch NAME | --auto [--json]", modelsExamples)
	asJSON := fs.Bool("json", false, "print the active and pinned model as JSON")
	auto := fs.Bool("auto", false, "clear the pinned model and let the router choose")
	rest, err := m.parse(fs, args, 1)
	if err != nil {
		return err
	}
	if *auto && len(rest) > 0 {
		return fmt.Errorf("%w: unexpected argument %q: --auto unpins and takes no NAME (see 'mai models switch --help')", errUsage, rest[0])
	}
	if !*auto && len(rest) != 1 {
		return fmt.Errorf("%w: give one model to switch to, e.g. 'mai models switch ollama:llama3.2:3b', or --auto", errUsage)
	}
	target := ""
	if len(rest) == 1 {
		target = rest[0]
	}
	return m.modelsSwitch(ctx, target, *asJSON)
}

// installedModel is one row of `mai models list --json`.
type installedModel struct {
	Ref      string `json:"ref"`
	Backend  string `json:"backend"`
	Endpoint string `json:"endpoint"`
	Loaded   bool   `json:"loaded"`
	Model    any    `json:"model"`
}

func (m *Main) modelsList(ctx context.Context, ms *models, asJSON bool) error {
	plan := ms.plan(ctx)
	var rows []installedModel
	reachable := 0
	for _, ep := range plan.Endpoints {
		if !ep.Reachable {
			fmt.Fprintf(m.Stderr, "mai: %s\n", ep.Error)
			continue
		}
		reachable++
		loaded := map[string]bool{}
		for _, in := range ep.Loaded {
			loaded[in.Model] = true
		}
		for _, md := range ep.Installed {
			rows = append(rows, installedModel{Ref: ep.Backend + ":" + md.Name, Backend: ep.Backend, Endpoint: ep.Endpoint, Loaded: loaded[md.Name], Model: md})
		}
	}
	if asJSON {
		if rows == nil {
			rows = []installedModel{}
		}
		if err := m.writeJSON(rows); err != nil {
			return err
		}
	} else {
		tw := tabwriter.NewWriter(m.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MODEL\tPARAMS\tQUANT\tSIZE\tCONTEXT\tCAPABILITIES\tLOADED")
		for _, ep := range plan.Endpoints {
			loaded := map[string]bool{}
			for _, in := range ep.Loaded {
				loaded[in.Model] = true
			}
			for _, md := range ep.Installed {
				var caps []string
				for _, c := range []struct {
					on   bool
					name string
				}{{md.Capabilities.Chat, "chat"}, {md.Capabilities.Embedding, "embed"}, {md.Capabilities.Tools, "tools"}, {md.Capabilities.Vision, "vision"}} {
					if c.on {
						caps = append(caps, c.name)
					}
				}
				params := md.ParameterLabel
				if params == "" && md.Parameters > 0 {
					params = fmt.Sprintf("%.1fB", float64(md.Parameters)/1e9)
				}
				fmt.Fprintf(tw, "%s:%s\t%s\t%s\t%s\t%d\t%s\t%s\n", ep.Backend, md.Name, dash(params), dash(md.Quantization),
					gigabytes(md.SizeBytes), md.ContextLength, strings.Join(caps, ","), yes(loaded[md.Name]))
			}
		}
		tw.Flush()
	}
	if reachable == 0 {
		return fmt.Errorf("no model backend is reachable: start Ollama (`ollama serve`) or LM Studio's server, or set OLLAMA_ENDPOINT / LMSTUDIO_ENDPOINT")
	}
	return nil
}

func (m *Main) modelsStatus(ctx context.Context, ms *models, asJSON bool) error {
	plan := ms.plan(ctx)
	pinned, err := ms.log.Pinned(ctx)
	if err != nil {
		return err
	}
	if asJSON {
		return m.writeJSON(struct {
			router.Plan
			PinnedRef string `json:"pinned_ref"`
		}{plan, pinned})
	}
	m.printPlan(plan, pinned)
	return nil
}

// printPlan prints pools, loaded models and ranked candidates.
func (m *Main) printPlan(plan router.Plan, pinned string) {
	w := m.Stdout
	if pinned != "" {
		fmt.Fprintf(w, "pinned model: %s (mai models switch --auto unpins)\n", pinned)
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "POOL\tKIND\tBUDGET\tUSED\tFREE\tHEADROOM")
	for _, p := range plan.Pools {
		kind := "VRAM"
		if p.CPU {
			kind = "RAM"
		}
		if p.Unknown {
			fmt.Fprintf(tw, "%s\t%s\tunknown (give one as URL=GB)\t%s\t-\t-\n", p.Name, kind, gigabytes(p.Used))
			continue
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", p.Name, kind, gigabytes(p.Bytes), gigabytes(p.Used), gigabytes(p.Free), gigabytes(p.Headroom))
	}
	tw.Flush()
	for _, p := range plan.Pools {
		if len(p.Devices) > 0 {
			fmt.Fprintf(w, "%s: other programs use %s of VRAM (not Mai's to plan with)\n", p.Name, gigabytes0(p.OtherPrograms))
		}
		for _, d := range p.Devices {
			fmt.Fprintf(w, "  GPU %d %s: %s free of %s\n", d.Index, d.Name, gigabytes0(d.Free), gigabytes0(d.Total))
		}
		if p.ProbeError != "" {
			fmt.Fprintf(w, "%s: %s\n", p.Name, p.ProbeError)
		}
	}
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BACKEND\tENDPOINT\tSTATE\tLOADED")
	for _, ep := range plan.Endpoints {
		state := "reachable"
		if !ep.Reachable {
			state = "unreachable"
		}
		var loaded []string
		for _, in := range ep.Loaded {
			owner := ""
			if in.OwnedByMai {
				owner = ", Mai's"
			}
			loaded = append(loaded, fmt.Sprintf("%s (%s%s)", in.Model, gigabytes(in.Bytes), owner))
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\n", ep.Backend, ep.Endpoint, state, dash(strings.Join(loaded, ", ")))
	}
	tw.Flush()
	fmt.Fprintln(w)
	tw = tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "RANK\tMODEL\tFITS\tWHY")
	for i, c := range plan.Candidates {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\n", i+1, c.Ref, yes(c.Fits), c.Reason)
	}
	tw.Flush()
}

// modelsSwitch switches and pins (ref "" unpins) through the running
// daemon when one answers, so the model it answers with is the one
// switched to, and in this process otherwise: one step, pinModel, either way.
func (m *Main) modelsSwitch(ctx context.Context, ref string, asJSON bool) error {
	var pinned string
	cl := control.NewClient(m.socketPath())
	if cl.Ping(ctx, pingTimeout) == nil {
		p, err := cl.SwitchModel(ctx, ref)
		if err != nil {
			return err
		}
		pinned = p
	} else {
		ms, err := m.openModels(ctx, readWrite)
		if err != nil {
			return err
		}
		defer ms.close()
		if pinned, err = m.pinModel(ctx, ms.router, ms.log, ref); err != nil {
			return err
		}
	}
	switch {
	case asJSON && pinned == "":
		return m.writeJSON(map[string]string{"pinned_ref": ""})
	case asJSON:
		return m.writeJSON(map[string]string{"active": pinned, "pinned_ref": pinned})
	case pinned == "":
		fmt.Fprintln(m.Stdout, "no model pinned: the router chooses the best model that fits")
	default:
		fmt.Fprintf(m.Stdout, "switched to %s, loaded and pinned\n", pinned)
	}
	return nil
}

// pinModel switches r to ref, pins it in the switch log and audits it as
// the owner's choice; ref "" unpins. It returns the pinned ref.
func (m *Main) pinModel(ctx context.Context, r *router.Router, sl *switchlog.Log, ref string) (string, error) {
	if ref == "" {
		if err := sl.Pin(ctx, ""); err != nil {
			return "", err
		}
		return "", m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "model.unpin", Subject: "model"})
	}
	if err := r.Switch(ctx, ref); err != nil {
		return "", err
	}
	active, _ := r.Active()
	if err := sl.Pin(ctx, active.Ref()); err != nil {
		return "", err
	}
	return active.Ref(), m.record(ctx, audit.Record{Actor: approval.LocalOwner, Action: "model.pin", Subject: active.Ref(), Details: map[string]string{"requested": ref}})
}

func (m *Main) modelsProbe(ctx context.Context, ms *models, asJSON bool) error {
	plan := ms.plan(ctx)
	type endpointState struct {
		Backend   string `json:"backend"`
		Endpoint  string `json:"endpoint"`
		Reachable bool   `json:"reachable"`
		Error     string `json:"error,omitempty"`
		Models    int    `json:"models"`
	}
	var eps []endpointState
	for _, ep := range plan.Endpoints {
		eps = append(eps, endpointState{ep.Backend, ep.Endpoint, ep.Reachable, ep.Error, len(ep.Installed)})
	}
	if asJSON {
		return m.writeJSON(struct {
			GPU       gpu.Result      `json:"gpu"`
			Pools     any             `json:"pools"`
			Endpoints []endpointState `json:"endpoints"`
		}{ms.probe, plan.Pools, eps})
	}
	fmt.Fprintf(m.Stdout, "GPU probe: %s\n", ms.probe.Source)
	for _, d := range ms.probe.Devices {
		fmt.Fprintf(m.Stdout, "  %d: %s, %s free of %s\n", d.Index, d.Name, gigabytes(d.Free), gigabytes(d.Total))
	}
	for _, n := range ms.probe.Notes {
		fmt.Fprintf(m.Stdout, "  note: %s\n", n)
	}
	for _, e := range eps {
		if e.Reachable {
			fmt.Fprintf(m.Stdout, "%s at %s: reachable, %d models\n", e.Backend, e.Endpoint, e.Models)
		} else {
			fmt.Fprintf(m.Stdout, "%s at %s: %s\n", e.Backend, e.Endpoint, e.Error)
		}
	}
	return nil
}

func gigabytes(b int64) string {
	if b <= 0 {
		return "-"
	}
	return fmt.Sprintf("%.1f GB", float64(b)/(1<<30))
}

// gigabytes0 is gigabytes, with 0 shown as such.
func gigabytes0(b int64) string {
	if b == 0 {
		return "0 GB"
	}
	return gigabytes(b)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yes(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}
