{{- define "sluice.fullname" -}}{{ .Release.Name }}-sluice{{- end -}}
{{- define "sluice.labels" -}}
app.kubernetes.io/name: sluice
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}
