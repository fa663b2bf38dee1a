package reconcile

import (
	"fmt"
	"io"
	"strings"
	"text/tabwriter"

	"github.com/paygate-cn/paygate"
)

// WriteReport writes, as a table, the latest run of each provider among
// runs (newest first) of day, or only provider's when given: its status,
// both sides' counts and amounts (yuan), and its outcomes.
func WriteReport(out io.Writer, day, provider string, runs []*paygate.Reconciliation) error {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', tabwriter.AlignRight)
	head := []string{"provider", "run", "status", "paygate", "channel"}
	for _, o := range paygate.ReconOutcomes {
		head = append(head, string(o))
	}
	fmt.Fprintln(tw, strings.Join(head, "\t")+"\t")
	seen := map[string]bool{}
	for _, r := range runs {
		if seen[r.Provider] || provider != "" && r.Provider != provider {
			continue
		}
		seen[r.Provider] = true
		row := []string{r.Provider, r.ID, string(r.Status),
			fmt.Sprintf("%d / %s", r.Paygate.Count, Yuan(r.Paygate.Amount)),
			fmt.Sprintf("%d / %s", r.Channel.Count, Yuan(r.Channel.Amount))}
		for _, o := range paygate.ReconOutcomes {
			row = append(row, fmt.Sprint(r.Outcomes[o]))
		}
		fmt.Fprintln(tw, strings.Join(row, "\t")+"\t")
	}
	if len(seen) == 0 {
		fmt.Fprintf(tw, "no reconciliation of %s yet\t\n", day)
	}
	return tw.Flush()
}
