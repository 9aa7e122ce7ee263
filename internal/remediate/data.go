package remediate

import "github.com/keyage/keyage/internal/notify"

// TemplateData is what a receiver's templates see for items of one kind
// (receivers.Env.TemplateData).
func TemplateData(kind string, items []notify.Item) any { return newData(kind, items) }
