package config

import (
	"reflect"
	"strings"
	"testing"

	"github.com/paygate-cn/paygate"
	"gopkg.in/yaml.v3"
)

// TestFileFormMirrorsDomain: each file-form type has its domain type's
// fields, in order, each with a yaml name, so no domain field is left out
// of the configuration file (the conversions that are not a plain type
// conversion would otherwise drop a new field silently).
func TestFileFormMirrorsDomain(t *testing.T) {
	pairs := []struct{ file, domain any }{
		{authCodeRule{}, paygate.AuthCodeRule{}},
		{providerSpec{}, paygate.ProviderSpec{}},
		{feeRule{}, paygate.FeeRule{}},
		{riskRules{}, paygate.RiskRules{}},
		{limit{}, paygate.Limit{}},
		{splitPaymentRule{}, paygate.SplitPaymentRule{}},
	}
	for _, p := range pairs {
		ft, dt := reflect.TypeOf(p.file), reflect.TypeOf(p.domain)
		if ft.NumField() != dt.NumField() {
			t.Errorf("%v has %d fields, %v %d", ft, ft.NumField(), dt, dt.NumField())
			continue
		}
		for i := range ft.NumField() {
			f, d := ft.Field(i), dt.Field(i)
			if f.Name != d.Name {
				t.Errorf("%v field %d is %s, %v's is %s", ft, i, f.Name, dt, d.Name)
			}
			if name, _, _ := strings.Cut(f.Tag.Get("yaml"), ","); name == "" || name == "-" {
				t.Errorf("%v.%s has no yaml name", ft, f.Name)
			}
		}
	}
}

// TestProvidersYAMLParses: what `paygate sandbox` prints is a providers
// list the configuration reads back unchanged.
func TestProvidersYAMLParses(t *testing.T) {
	ps := []paygate.ProviderSpec{{ID: "wx", Kind: paygate.KindWeChat, BaseURL: "https://wx.example",
		Credentials: map[string]string{"mchid": "1"}, Priority: 2, Timeout: 3e9, MinAmount: 1, MaxAmount: 9,
		Methods: []paygate.Method{paygate.MethodAuthCode}, Fees: []paygate.FeeRule{{Name: "std", Cap: 5}}}}
	b, err := ProvidersYAML(ps)
	if err != nil {
		t.Fatal(err)
	}
	var f file
	if err := yaml.Unmarshal(b, &f); err != nil {
		t.Fatal(err)
	}
	got := f.config().Providers
	if len(got) != 1 || got[0].ID != "wx" || got[0].BaseURL != ps[0].BaseURL || got[0].Timeout != ps[0].Timeout ||
		got[0].Credentials["mchid"] != "1" || len(got[0].Fees) != 1 || got[0].Fees[0].Cap != 5 {
		t.Fatalf("read back %+v\nwant %+v\nfrom %s", got, ps, b)
	}
	again, err := ProvidersYAML(got)
	if err != nil || string(again) != string(b) {
		t.Fatalf("written again (%v):\n%s\nfirst:\n%s", err, again, b)
	}
}
