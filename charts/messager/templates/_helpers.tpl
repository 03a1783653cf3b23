{{/* vim: set filetype=mustache: */}}

{{/*
Chart name, truncated to the 63 characters a label value may hold.
*/}}
{{- define "messager.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Full name: <release>-<chart>, or the release name alone when it already contains the chart name.
*/}}
{{- define "messager.fullname" -}}
{{- if .Values.fullnameOverride -}}
{{- .Values.fullnameOverride | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- $name := default .Chart.Name .Values.nameOverride -}}
{{- if contains $name .Release.Name -}}
{{- .Release.Name | trunc 63 | trimSuffix "-" -}}
{{- else -}}
{{- printf "%s-%s" .Release.Name $name | trunc 63 | trimSuffix "-" -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
Name of a component's objects: <fullname>-<component>.
Usage: include "messager.componentName" (dict "root" $ "component" "api")
*/}}
{{- define "messager.componentName" -}}
{{- printf "%s-%s" (include "messager.fullname" .root | trunc 56 | trimSuffix "-") .component -}}
{{- end -}}

{{- define "messager.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/*
Labels that never change over a release's life: used in selectors.
*/}}
{{- define "messager.selectorLabels" -}}
app.kubernetes.io/name: {{ include "messager.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/*
Labels on every object.
*/}}
{{- define "messager.labels" -}}
helm.sh/chart: {{ include "messager.chart" . }}
{{ include "messager.selectorLabels" . }}
app.kubernetes.io/version: {{ .Chart.AppVersion | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: messager
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
Selector labels of one component (api, worker, migrate).
Usage: include "messager.componentSelectorLabels" (dict "root" $ "component" "api")
*/}}
{{- define "messager.componentSelectorLabels" -}}
{{ include "messager.selectorLabels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{/*
All labels of one component.
*/}}
{{- define "messager.componentLabels" -}}
{{ include "messager.labels" .root }}
app.kubernetes.io/component: {{ .component }}
{{- end -}}

{{- define "messager.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "messager.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{/*
Image reference: registry/repository:tag or @digest; the tag defaults to appVersion.
*/}}
{{- define "messager.image" -}}
{{- $repo := .Values.image.repository -}}
{{- if .Values.image.registry -}}
{{- $repo = printf "%s/%s" .Values.image.registry .Values.image.repository -}}
{{- end -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" $repo .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" $repo (default .Chart.AppVersion .Values.image.tag) -}}
{{- end -}}
{{- end -}}

{{/*
The container port, taken from config.http.addr (":8080" → 8080) so the two never disagree.
*/}}
{{- define "messager.metricsPort" -}}
{{- $port := regexReplaceAll "^.*:" (toString .Values.config.observability.metricsAddr) "" -}}
{{- if not (regexMatch "^[0-9]+$" $port) -}}
{{- fail (printf "config.observability.metricsAddr %q must end in :<port>: metrics are served only on their own port, never through the Ingress" .Values.config.observability.metricsAddr) -}}
{{- end -}}
{{- if eq $port (include "messager.httpPort" .) -}}
{{- fail "config.observability.metricsAddr must use another port than config.http.addr" -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{- define "messager.httpPort" -}}
{{- $port := regexReplaceAll "^.*:" (toString .Values.config.http.addr) "" -}}
{{- if not (regexMatch "^[0-9]+$" $port) -}}
{{- fail (printf "config.http.addr %q must end in :<port>" .Values.config.http.addr) -}}
{{- end -}}
{{- $port -}}
{{- end -}}

{{/*
Secret and key holding the database / Redis URL; empty when neither url nor existingSecret is set.
*/}}
{{- define "messager.databaseSecretName" -}}
{{- if .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecret -}}
{{- else if .Values.externalDatabase.url -}}
{{- include "messager.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "messager.databaseSecretKey" -}}
{{- if .Values.externalDatabase.existingSecret -}}
{{- .Values.externalDatabase.existingSecretKey -}}
{{- else -}}
database-url
{{- end -}}
{{- end -}}

{{- define "messager.redisSecretName" -}}
{{- if .Values.externalRedis.existingSecret -}}
{{- .Values.externalRedis.existingSecret -}}
{{- else if .Values.externalRedis.url -}}
{{- include "messager.fullname" . -}}
{{- end -}}
{{- end -}}

{{- define "messager.redisSecretKey" -}}
{{- if .Values.externalRedis.existingSecret -}}
{{- .Values.externalRedis.existingSecretKey -}}
{{- else -}}
redis-url
{{- end -}}
{{- end -}}

{{/*
The optional in-cluster Redis (redis.enabled): its object name and the URL the api and
worker use when externalRedis is unset.
*/}}
{{- define "messager.inClusterRedisName" -}}
{{- include "messager.componentName" (dict "root" . "component" "redis") -}}
{{- end -}}

{{- define "messager.inClusterRedisURL" -}}
{{- printf "redis://%s:6379/0" (include "messager.inClusterRedisName" .) -}}
{{- end -}}

{{/*
True when the chart renders its own Secret (some URL given without an existingSecret).
*/}}
{{- define "messager.createSecret" -}}
{{- if or (and .Values.externalDatabase.url (not .Values.externalDatabase.existingSecret)) (and .Values.externalRedis.url (not .Values.externalRedis.existingSecret)) -}}
true
{{- end -}}
{{- end -}}

{{/*
The MessagerConfig document rendered from .Values.config.
*/}}
{{- define "messager.configDocument" -}}
apiVersion: messager.io/v1alpha1
kind: MessagerConfig
metadata:
  name: {{ include "messager.fullname" . }}
spec:
  {{- toYaml .Values.config | nindent 2 }}
{{- end -}}

{{/*
Env vars shared by the api and worker containers.
*/}}
{{- define "messager.env" -}}
- name: MESSAGER_CONFIG
  value: /etc/messager/config.yaml
{{- with (include "messager.databaseSecretName" .) }}
- name: MESSAGER_DATABASE_URL
  valueFrom:
    secretKeyRef:
      name: {{ . }}
      key: {{ include "messager.databaseSecretKey" $ }}
{{- end }}
{{- $redisSecret := include "messager.redisSecretName" . }}
{{- if $redisSecret }}
- name: MESSAGER_REDIS_URL
  valueFrom:
    secretKeyRef:
      name: {{ $redisSecret }}
      key: {{ include "messager.redisSecretKey" . }}
{{- else if .Values.redis.enabled }}
- name: MESSAGER_REDIS_URL
  value: {{ include "messager.inClusterRedisURL" . | quote }}
{{- end }}
{{- with .Values.extraEnv }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{/*
A value rendered as YAML and then through tpl, as Bitnami's common.tplvalues.render does, so
extraEnv/extraVolumes/extraVolumeMounts may refer to the release ("{{ .Release.Name }}-creds").
Usage: include "messager.tplvalues.render" (dict "value" .Values.api.extraEnv "context" $)
*/}}
{{- define "messager.tplvalues.render" -}}
{{- if typeIs "string" .value -}}
{{- tpl .value .context -}}
{{- else -}}
{{- tpl (toYaml .value) .context -}}
{{- end -}}
{{- end -}}

{{/*
Volumes shared by the api and worker pods: the config, a writable data dir and /tmp
(the root filesystem is read-only).
*/}}
{{- define "messager.volumes" -}}
- name: config
  configMap:
    name: {{ include "messager.fullname" . }}
- name: data
  emptyDir: {}
- name: tmp
  emptyDir: {}
{{- end -}}

{{- define "messager.volumeMounts" -}}
- name: config
  mountPath: /etc/messager
  readOnly: true
- name: data
  mountPath: {{ .Values.config.dataDir | default "/data" }}
- name: tmp
  mountPath: /tmp
{{- end -}}

{{/*
Default soft pod anti-affinity: spread a component's pods across nodes.
*/}}
{{- define "messager.defaultAffinity" -}}
podAntiAffinity:
  preferredDuringSchedulingIgnoredDuringExecution:
    - weight: 100
      podAffinityTerm:
        topologyKey: kubernetes.io/hostname
        labelSelector:
          matchLabels:
            {{- include "messager.componentSelectorLabels" . | nindent 12 }}
{{- end -}}

{{/*
Whole seconds in a Go duration written as [Nh][Nm][Ns] ("20s", "1m30s"); -1 for any other
form (fractions, ms), which then skips the grace-period check below.
*/}}
{{- define "messager.durationSeconds" -}}
{{- $d := toString . -}}
{{- if and $d (regexMatch "^([0-9]+h)?([0-9]+m)?([0-9]+s)?$" $d) -}}
{{- $h := regexFind "[0-9]+h" $d | trimSuffix "h" | default "0" | int -}}
{{- $m := regexFind "[0-9]+m" $d | trimSuffix "m" | default "0" | int -}}
{{- $s := regexFind "[0-9]+s" $d | trimSuffix "s" | default "0" | int -}}
{{- add (mul $h 3600) (mul $m 60) $s -}}
{{- else -}}
-1
{{- end -}}
{{- end -}}

{{/*
Fail the render when a pod would be killed before the process finishes its graceful
shutdown. Usage: include "messager.checkGracePeriod" (dict "grace" N "timeout" "20s" "what" "api" "setting" "config.http.shutdownTimeout")
*/}}
{{- define "messager.checkGracePeriod" -}}
{{- $timeout := include "messager.durationSeconds" .timeout | int -}}
{{- $preStop := .preStop | default 0 | int -}}
{{- if and (ge $timeout 0) (le (int .grace) (add $timeout $preStop)) -}}
{{- if $preStop -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must be longer than %s.preStopSleepSeconds (%d) plus %s (%s), or pods are killed mid-shutdown" .what .grace .what $preStop .setting .timeout) -}}
{{- else -}}
{{- fail (printf "%s.terminationGracePeriodSeconds (%v) must be longer than %s (%s), or pods are killed mid-shutdown" .what .grace .setting .timeout) -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/*
The api's preStop sleep in seconds, or 0: the sleep action exists from Kubernetes 1.30
(PodLifecycleSleepAction, on by default), and the chart supports 1.27.
*/}}
{{- define "messager.apiPreStopSleep" -}}
{{- if semverCompare ">=1.30.0-0" .Capabilities.KubeVersion.Version -}}
{{- .Values.api.preStopSleepSeconds | default 0 | int -}}
{{- else -}}
0
{{- end -}}
{{- end -}}
