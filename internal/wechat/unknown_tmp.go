package wechat

// Placeholder until the client's unknown-outcome classification is merged.
const ClassUnknown Class = 100
