package wechat

import "testing"

// BenchmarkValidateValue measures the valid path, which runs for every keyword
// of every send and must not allocate, on a typical value per type.
func BenchmarkValidateValue(b *testing.B) {
	enum := []string{"未开始", "进行中", "已完成"}
	types := append(append([]string(nil), knownTypes...), "short_thing")
	for _, typ := range types {
		value, ok := typicalValues[typ]
		if !ok {
			value = "任意内容 any text"
		}
		b.Run(typ, func(b *testing.B) {
			if err := ValidateValue(typ, value, enum); err != nil {
				b.Fatalf("typical value %q is invalid: %v", value, err)
			}
			b.ReportAllocs()
			for b.Loop() {
				if ValidateValue(typ, value, enum) != nil {
					b.Fatal("invalid")
				}
			}
		})
	}
	// One invalid value: the error path allocates its *ValueError.
	b.Run("thing_too_long", func(b *testing.B) {
		value := "这是一个超过二十个字符长度限制的会议名称示例文本"
		b.ReportAllocs()
		for b.Loop() {
			if ValidateValue("thing", value, nil) == nil {
				b.Fatal("valid")
			}
		}
	})
}

func BenchmarkFitValue(b *testing.B) {
	cases := []struct{ name, typ, value string }{
		{"thing_unchanged", "thing", typicalValues["thing"]},
		{"thing_truncate", "thing", "这是一个超过二十个字符长度限制的会议名称示例文本"},
		{"time_fullwidth_range", "time", "2026-12-01 14:00 ～ 15:30"},
	}
	for _, c := range cases {
		b.Run(c.name, func(b *testing.B) {
			b.ReportAllocs()
			for b.Loop() {
				_ = FitValue(c.typ, c.value)
			}
		})
	}
}
