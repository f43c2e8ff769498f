package runner

// gridTV says whether graphs.Targets has the TV grid term (export-v2).
const gridTV = false
