package apps_test

import (
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/reminderd/reminderd/internal/apps"
)

var def = apps.Defaults{MiniprogramState: "formal", Lang: "zh_CN", Timezone: "Asia/Shanghai"}

func env(m map[string]string) func(string) string { return func(k string) string { return m[k] } }

const aes = "abcdefghijklmnopqrstuvwxyz0123456789ABCDEFG"

func TestLoadReadsSecretsFromTheVariablesItNames(t *testing.T) {
	path := filepath.Join(t.TempDir(), "apps.json")
	os.WriteFile(path, []byte(`{"apps":[
	 {"appid":"wxaaaa","secret_env":"A_SECRET","push_token_env":"A_PUSH","aes_key_env":"A_AES","service_token_env":"A_SVC",
	  "webhook_url":"https://backend.example/hook","webhook_secret_env":"A_HOOK","lang":"en_US"},
	 {"appid":"wxbbbb","secret_env":"B_SECRET","timezone":"Europe/Berlin","miniprogram_state":"trial"}]}`), 0o600)
	s, err := apps.Load(path, env(map[string]string{"A_SECRET": "sa", "A_PUSH": "pa", "A_AES": aes, "A_SVC": "svc", "A_HOOK": "hk", "B_SECRET": "sb"}), def)
	if err != nil {
		t.Fatal(err)
	}
	want := apps.Set{
		{AppID: "wxaaaa", Secret: "sa", PushToken: "pa", AESKey: aes, ServiceToken: "svc", WebhookURL: "https://backend.example/hook", WebhookSecret: "hk", MiniprogramState: "formal", Lang: "en_US", Timezone: "Asia/Shanghai"},
		{AppID: "wxbbbb", Secret: "sb", MiniprogramState: "trial", Lang: "zh_CN", Timezone: "Europe/Berlin"},
	}
	if len(s) != 2 || s[0] != want[0] || s[1] != want[1] {
		t.Fatalf("got %+v", []apps.App(s))
	}
	if a, ok := s.Get("wxbbbb"); !ok || a.Secret != "sb" {
		t.Fatalf("Get = %v %v", a, ok)
	}
	if _, ok := s.Get("wxcccc"); ok {
		t.Fatal("unknown app found")
	}
	// No secret is ever printed.
	for _, out := range []string{fmt.Sprint(s[0]), fmt.Sprintf("%+v %#v", s[0], s[0])} {
		for _, secret := range []string{"sa", "pa", aes, "svc", "hk"} {
			if strings.Contains(out, `"`+secret+`"`) || strings.Contains(out, " "+secret) || strings.Contains(out, secret+" ") {
				t.Fatalf("%q shows a secret", out)
			}
		}
	}
}

func TestParseNamesTheAppAndField(t *testing.T) {
	for _, c := range []struct {
		name, file string
		want       []string
	}{
		{"missing variable", `{"apps":[{"appid":"wxaaaa","secret_env":"NOPE"}]}`, []string{"apps[0] (wxaaaa): secret_env", "NOPE is not set"}},
		{"no secret_env", `{"apps":[{"appid":"wxaaaa"}]}`, []string{"apps[0] (wxaaaa): secret_env: is required"}},
		{"no appid", `{"apps":[{"secret_env":"S"}]}`, []string{"apps[0]: appid: is required"}},
		{"twice", `{"apps":[{"appid":"wxaaaa","secret_env":"S"},{"appid":"wxaaaa","secret_env":"S"}]}`, []string{"apps[1] (wxaaaa): appid", "twice"}},
		{"empty", `{"apps":[]}`, []string{"at least one app"}},
		{"unknown field", `{"apps":[{"appid":"wxaaaa","secret":"inline"}]}`, []string{"unknown field"}},
		{"malformed", `{"apps":[`, []string{"not an apps file"}},
		{"bad lang", `{"apps":[{"appid":"wxaaaa","secret_env":"S","lang":"fr"}]}`, []string{"apps[0] (wxaaaa): lang"}},
		{"bad zone", `{"apps":[{"appid":"wxaaaa","secret_env":"S","timezone":"Mars/Olympus"}]}`, []string{"apps[0] (wxaaaa): timezone"}},
		{"plaintext push", `{"apps":[{"appid":"wxaaaa","secret_env":"S","push_token_env":"S"}]}`, []string{"apps[0] (wxaaaa): aes_key_env"}},
		{"webhook alone", `{"apps":[{"appid":"wxaaaa","secret_env":"S","webhook_url":"https://x.example/h"}]}`, []string{"apps[0] (wxaaaa): webhook_url"}},
		{"second app", `{"apps":[{"appid":"wxaaaa","secret_env":"S"},{"appid":"wxbbbb","secret_env":"S","miniprogram_state":"beta"}]}`, []string{"apps[1] (wxbbbb): miniprogram_state"}},
	} {
		t.Run(c.name, func(t *testing.T) {
			_, err := apps.Parse([]byte(c.file), env(map[string]string{"S": "x"}), def)
			if err == nil {
				t.Fatal("accepted")
			}
			for _, w := range c.want {
				if !strings.Contains(err.Error(), w) {
					t.Errorf("error %q lacks %q", err, w)
				}
			}
		})
	}
}

// A service token names one app: the admin's token, another app's token
// and a short token are refused, each named by its app.
func TestCheckTokens(t *testing.T) {
	long := strings.Repeat("s", 24)
	ok := apps.Set{{AppID: "wxa", ServiceToken: long}, {AppID: "wxb", ServiceToken: long + "b"}, {AppID: "wxc"}}
	if err := apps.CheckTokens(ok, "admin-token-0123456789abcdef", 24); err != nil {
		t.Fatal(err)
	}
	bad := apps.Set{{AppID: "wxa", ServiceToken: long}, {AppID: "wxb", ServiceToken: long}, {AppID: "wxc", ServiceToken: "adm"}, {AppID: "wxd", ServiceToken: "short"}}
	err := apps.CheckTokens(bad, "adm", 24)
	for _, want := range []string{"app wxb: service_token_env: the same service token as app wxa", "app wxc: service_token_env: the service token must differ from the admin token", "app wxd: service_token_env: the service token has 5 characters"} {
		if err == nil || !strings.Contains(err.Error(), want) {
			t.Errorf("error %v lacks %q", err, want)
		}
	}
	if err := apps.CheckTokens(apps.Set{{AppID: "wxa", ServiceToken: "short"}}, "", 0); err != nil {
		t.Fatalf("the sandbox takes any length: %v", err)
	}
}
