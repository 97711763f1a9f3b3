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
func ServiceTitle(service string) string { return titleOf(serviceTitles, service) }

// SpecTitle is a spec's Chinese name (an SOS spec, a Butler edition); any other spec is its own name.
func SpecTitle(spec string) string { return titleOf(specTitles, spec) }

// clauseTitles name clauses as a customer reads them, in Chinese.
var clauseTitles = map[string]string{
	ClauseAssets:                 "资产清单提交",
	ClauseResponse:               "响应时效",
	ClauseHandling:               "处置时效",
	ClauseEffect:                 "处置效果",
	ClauseOnboardingContact:      "开通联系",
	ClauseIncidentUrgent:         "紧急事件响应",
	ClauseIncidentNormal:         "非紧急事件响应",
	ClauseIncidentResolve:        "事件解决时效",
	ClauseVulnHigh:               "高危漏洞响应",
	ClauseVulnMedium:             "中危漏洞响应",
	ClauseVulnLow:                "低危漏洞响应",
	ClauseArchitectureConsulting: "架构咨询响应",
	ClauseTerm:                   "服务期",
	ClauseCancellation:           "退订",
}

// ClauseTitle is a clause's Chinese name ("响应时效"); a clause without one is its own name.
func ClauseTitle(clause string) string { return titleOf(clauseTitles, clause) }

// classTitles are the incident classes' Chinese names (GB/Z 20986-2007).
var classTitles = map[string]string{
	ClassMalware:                "有害程序事件",
	ClassNetworkAttack:          "网络攻击事件",
	ClassInformationDestruction: "信息破坏事件",
	ClassContentSecurity:        "信息内容安全事件",
}

// ClassTitle is an incident class's Chinese name; an unknown class is its own name.
func ClassTitle(class string) string { return titleOf(classTitles, class) }

// titleOf is name's title in titles, or name itself when it has none.
func titleOf(titles map[string]string, name string) string {
	if t, ok := titles[name]; ok {
		return t
	}
	return name
}
