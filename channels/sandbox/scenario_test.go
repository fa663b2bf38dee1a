package sandbox

import "testing"

func TestScenarioOf(t *testing.T) {
	for code, want := range map[string]Scenario{
		"134567890123451111":  ConfirmLater,
		"134567890123452222":  NeverConfirm,
		"6222021234567893333": Decline,
		"134567890123454444":  TimeoutThenSucceed,
		"134567890123455555":  ErrorThenSucceed,
		"134567890123456666":  TripleCallback,
		"134567890123456789":  Succeed,
		"12":                  Succeed,
	} {
		if got := ScenarioOf(code); got != want {
			t.Errorf("ScenarioOf(%q) = %v, want %v", code, got, want)
		}
	}
}
