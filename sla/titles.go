package sla

// The catalogue's names as customers and managers read them (SPEC.md "Service catalogue"): the Chinese
// name first, then the English.
var serviceTitles = map[string]string{
	ServiceSOS:        "应急响应 SOS",
	ServiceDengbao:    "等保整改 compliance rectification",
	ServiceButler:     "安全管家 Security Butler",
	ServiceHosting:    "服务器安全托管 server hosting",
	ServiceEscort:     "安全护航 event escort",
	ServiceConsulting: "安全咨询 consulting",
	ServiceTraining:   "安全培训 training",
	ServiceAssessment: "安全评估 assessment",
	ServiceCodeAudit:  "代码审计 code audit",
	ServiceOnboarding: "产品接入服务 product onboarding",
}

var specTitles = map[string]string{
	SpecHandling:        "事件处理",
	SpecAnalysisRemote:  "事件分析(远程)",
	SpecAnalysisOnsite:  "事件分析(现场)",
	EditionEmergency:    "应急版",
	EditionEscort:       "护航版",
	EditionEnterprise:   "企业版",
	EditionProfessional: "专业版",
}

// ServiceTitle is service's name in Chinese and English ("应急响应 SOS"); an unknown service is its own name.
func ServiceTitle(service string) string {
	if t, ok := serviceTitles[service]; ok {
		return t
	}
	return service
}

// SpecTitle is a spec's Chinese name (an SOS spec, a Butler edition); any other spec is its own name.
func SpecTitle(spec string) string {
	if t, ok := specTitles[spec]; ok {
		return t
	}
	return spec
}
