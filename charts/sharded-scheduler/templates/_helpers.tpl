{{/* Names, labels and shared pieces of the sharded-scheduler chart. */}}

{{- define "sharded-scheduler.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/*
The release's base name. The shards' StatefulSet carries it, so shard identities are
<fullname>-0, <fullname>-1, … At most 46 characters: "<fullname>-coordinator" must stay a
valid Service name (63) and "<fullname>-redis" a StatefulSet name whose pods' revision label
fits (52).
*/}}
{{- define "sharded-scheduler.fullname" -}}
{{- if .Values.fullnameOverride }}
{{- .Values.fullnameOverride | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- $name := default .Chart.Name .Values.nameOverride }}
{{- if contains $name .Release.Name }}
{{- .Release.Name | trunc 46 | trimSuffix "-" }}
{{- else }}
{{- printf "%s-%s" .Release.Name $name | trunc 46 | trimSuffix "-" }}
{{- end }}
{{- end }}
{{- end }}

{{/* Cluster-scoped objects (ClusterRoles, PriorityClass) are named per namespace and release. */}}
{{- define "sharded-scheduler.clusterName" -}}
{{- printf "%s-%s" .Release.Namespace (include "sharded-scheduler.fullname" .) | trunc 52 | trimSuffix "-" }}
{{- end }}

{{- define "sharded-scheduler.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" }}
{{- end }}

{{/* Selector labels of one component: call with (dict "ctx" $ "component" "scheduler"). */}}
{{- define "sharded-scheduler.selectorLabels" -}}
app.kubernetes.io/name: {{ include "sharded-scheduler.name" .ctx }}
app.kubernetes.io/instance: {{ .ctx.Release.Name }}
app.kubernetes.io/component: {{ .component }}
{{- end }}

{{/* All labels of one component's objects: call with (dict "ctx" $ "component" "scheduler"). */}}
{{- define "sharded-scheduler.labels" -}}
helm.sh/chart: {{ include "sharded-scheduler.chart" .ctx }}
{{ include "sharded-scheduler.selectorLabels" . }}
app.kubernetes.io/version: {{ .ctx.Chart.AppVersion | quote }}
app.kubernetes.io/part-of: sharded-scheduler
app.kubernetes.io/managed-by: {{ .ctx.Release.Service }}
{{- with .ctx.Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end }}

{{/* The image of the shards, the coordinator and the test pod: by digest when one is given. */}}
{{- define "sharded-scheduler.image" -}}
{{- include "sharded-scheduler.imageRef" (dict "repository" .Values.image.repository "tag" (default .Chart.AppVersion .Values.image.tag) "digest" .Values.image.digest) }}
{{- end }}

{{/* <repository>@<digest> when a digest is given (the tag is then ignored), else <repository>:<tag>. */}}
{{- define "sharded-scheduler.imageRef" -}}
{{- if .digest }}
{{- printf "%s@%s" .repository .digest }}
{{- else }}
{{- printf "%s:%s" .repository .tag }}
{{- end }}
{{- end }}

{{/*
Node's heap limit from a container's memory limit: NODE_OPTIONS=--max-old-space-size=<MiB>,
percent % of the limit, so that V8 collects before the kernel's OOM killer acts. The variable
replaces the image's own NODE_OPTIONS (the Dockerfile's --max-semi-space-size=8, a young
generation of 8 MiB per semi-space), so that flag is written first here too. Understands the
Kubernetes quantity suffixes (Ki Mi Gi Ti Pi, k M G T P, plain bytes, decimals). No limit, or
percent 0: nothing. Call with (dict "resources" .Values.scheduler.resources "percent" .Values.scheduler.maxHeapPercent).
*/}}
{{- define "sharded-scheduler.heapEnv" -}}
{{- $limit := "" }}
{{- with .resources }}{{ with .limits }}{{ with .memory }}{{ $limit = toString . }}{{ end }}{{ end }}{{ end }}
{{- $percent := .percent | int }}
{{- if and $limit (gt $percent 0) }}
{{- $match := regexFind "^[0-9]+([.][0-9]+)?" $limit }}
{{- $suffix := trimPrefix $match $limit }}
{{- $bytesPer := dict "" 1.0 "k" 1000.0 "M" 1e6 "G" 1e9 "T" 1e12 "P" 1e15 "Ki" 1024.0 "Mi" 1048576.0 "Gi" 1073741824.0 "Ti" 1099511627776.0 "Pi" 1125899906842624.0 }}
{{- if or (not $match) (not (hasKey $bytesPer $suffix)) }}
{{- fail (printf "cannot read the memory limit %q: use a quantity such as 2Gi, 1536Mi or 2G" $limit) }}
{{- end }}
{{- $mib := divf (mulf (float64 $match) (get $bytesPer $suffix)) 1048576.0 }}
{{- $heap := floor (divf (mulf $mib $percent) 100.0) | int64 }}
{{- if lt $heap 16 }}
{{- fail (printf "the memory limit %q leaves Node a heap of %d MiB: raise it" $limit $heap) }}
{{- end }}
- name: NODE_OPTIONS
  value: {{ printf "--max-semi-space-size=8 --max-old-space-size=%d" $heap | quote }}
{{- end }}
{{- end }}

{{/* A component's extraEnv, after the chart's own entries so that a variable of the same name wins. */}}
{{- define "sharded-scheduler.extraEnv" -}}
{{- with .extraEnv }}
{{- toYaml . }}
{{- end }}
{{- end }}

{{/*
A component's topologySpreadConstraints; an entry without labelSelector gets the component's
selector labels. Call with (dict "ctx" $ "values" .Values.scheduler "component" "scheduler").
*/}}
{{- define "sharded-scheduler.topologySpread" -}}
{{- with .values.topologySpreadConstraints }}
topologySpreadConstraints:
{{- range . }}
{{- $constraint := deepCopy . }}
{{- if not (hasKey $constraint "labelSelector") }}
{{- $_ := set $constraint "labelSelector" (dict "matchLabels" (include "sharded-scheduler.selectorLabels" (dict "ctx" $.ctx "component" $.component) | fromYaml)) }}
{{- end }}
  - {{ toYaml $constraint | nindent 4 | trim }}
{{- end }}
{{- end }}
{{- end }}

{{- define "sharded-scheduler.schedulerServiceAccount" -}}
{{- if .Values.scheduler.serviceAccount.create }}
{{- default (printf "%s-scheduler" (include "sharded-scheduler.fullname" .)) .Values.scheduler.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.scheduler.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sharded-scheduler.coordinatorServiceAccount" -}}
{{- if .Values.coordinator.serviceAccount.create }}
{{- default (printf "%s-coordinator" (include "sharded-scheduler.fullname" .)) .Values.coordinator.serviceAccount.name }}
{{- else }}
{{- default "default" .Values.coordinator.serviceAccount.name }}
{{- end }}
{{- end }}

{{- define "sharded-scheduler.priorityClassName" -}}
{{- if .Values.priorityClass.create }}
{{- default (include "sharded-scheduler.clusterName" .) .Values.priorityClass.name }}
{{- else }}
{{- .Values.priorityClass.name }}
{{- end }}
{{- end }}

{{/* The Leases the code names after the scheduler name (scheduler/src/sharding, coordinator/src/cli.ts). */}}
{{- define "sharded-scheduler.ringLease" -}}
{{- printf "%s-ring" .Values.schedulerName }}
{{- end }}

{{- define "sharded-scheduler.coordinatorLease" -}}
{{- printf "%s-coordinator" .Values.schedulerName }}
{{- end }}

{{/* Redis: "external" when the user gave a URL or Sentinels, else "internal" (with the coordinator). */}}
{{- define "sharded-scheduler.redisMode" -}}
{{- if or .Values.redis.external.url .Values.redis.external.sentinels }}external
{{- else if .Values.coordinator.enabled }}internal
{{- else }}none
{{- end }}
{{- end }}

{{- define "sharded-scheduler.redisName" -}}
{{- printf "%s-redis" (include "sharded-scheduler.fullname" .) }}
{{- end }}

{{/* The Secret and key holding the Redis password; empty when there is none. */}}
{{- define "sharded-scheduler.redisSecret" -}}
{{- $mode := include "sharded-scheduler.redisMode" . }}
{{- if eq $mode "internal" }}{{ include "sharded-scheduler.redisName" . }}
{{- else if eq $mode "external" }}{{ .Values.redis.external.existingSecret }}
{{- end }}
{{- end }}

{{- define "sharded-scheduler.redisSecretKey" -}}
{{- if eq (include "sharded-scheduler.redisMode" .) "internal" }}redis-password
{{- else }}{{ .Values.redis.external.existingSecretKey }}
{{- end }}
{{- end }}

{{/* The Redis settings of the shards and the coordinator, as ConfigMap entries. */}}
{{- define "sharded-scheduler.redisConfig" -}}
{{- $mode := include "sharded-scheduler.redisMode" . }}
{{- if eq $mode "internal" }}
REDIS_URL: {{ printf "redis://%s.%s.svc:6379/0" (include "sharded-scheduler.redisName" .) .Release.Namespace | quote }}
REDIS_TLS: "false"
REDIS_SENTINELS: ""
{{- else if eq $mode "external" }}
REDIS_URL: {{ .Values.redis.external.url | quote }}
REDIS_TLS: {{ .Values.redis.tls | toString | quote }}
REDIS_SENTINELS: {{ join "," .Values.redis.external.sentinels | quote }}
{{- else }}
REDIS_URL: ""
REDIS_TLS: "false"
REDIS_SENTINELS: ""
{{- end }}
REDIS_SENTINEL_MASTER: {{ .Values.redis.external.sentinelMaster | quote }}
{{- end }}

{{/* REDIS_PASSWORD from its Secret, never from the ConfigMap. */}}
{{- define "sharded-scheduler.redisPasswordEnv" -}}
{{- $secret := include "sharded-scheduler.redisSecret" . }}
{{- if $secret }}
- name: REDIS_PASSWORD
  valueFrom:
    secretKeyRef:
      name: {{ $secret }}
      key: {{ include "sharded-scheduler.redisSecretKey" . }}
{{- end }}
{{- end }}

{{/* POD_NAME (the replica identity) and POD_NAMESPACE (where the Leases live). */}}
{{- define "sharded-scheduler.downwardEnv" -}}
- name: POD_NAME
  valueFrom:
    fieldRef:
      fieldPath: metadata.name
- name: POD_NAMESPACE
  valueFrom:
    fieldRef:
      fieldPath: metadata.namespace
{{- end }}

{{/*
Placement of one component: the chart-wide nodeSelector and tolerations plus the component's
own; its affinity, or by default a preference for one replica per node; its topology spread.
Call with (dict "ctx" $ "values" .Values.scheduler "component" "scheduler").
*/}}
{{- define "sharded-scheduler.placement" -}}
{{- $nodeSelector := merge (deepCopy (default (dict) .values.nodeSelector)) (default (dict) .ctx.Values.nodeSelector) }}
{{- with $nodeSelector }}
nodeSelector:
  {{- toYaml . | nindent 2 }}
{{- end }}
{{- $tolerations := concat (default (list) .ctx.Values.tolerations) (default (list) .values.tolerations) }}
{{- with $tolerations }}
tolerations:
  {{- toYaml . | nindent 2 }}
{{- end }}
affinity:
{{- if .values.affinity }}
  {{- toYaml .values.affinity | nindent 2 }}
{{- else }}
  podAntiAffinity:
    preferredDuringSchedulingIgnoredDuringExecution:
      - weight: 100
        podAffinityTerm:
          topologyKey: kubernetes.io/hostname
          labelSelector:
            matchLabels:
              {{- include "sharded-scheduler.selectorLabels" (dict "ctx" .ctx "component" .component) | nindent 14 }}
{{- end }}
{{- with include "sharded-scheduler.topologySpread" . | trim }}
{{ . }}
{{- end }}
{{- with include "sharded-scheduler.priorityClassName" .ctx }}
priorityClassName: {{ . }}
{{- end }}
{{- end }}

{{/*
How /metrics is served (scheduler/src/serving): ConfigMap entries of a component.
Call with (dict "ctx" $ "port" <metrics port>).
*/}}
{{- define "sharded-scheduler.metricsConfig" -}}
{{- $m := .ctx.Values.metrics -}}
{{- if and (eq $m.auth "none") $m.networkPolicy.enabled (empty $m.networkPolicy.from) }}
{{- fail "metrics.auth=none serves /metrics to anyone who reaches the pods: set metrics.networkPolicy.from (who may scrape), or metrics.networkPolicy.enabled=false if your own NetworkPolicy does that" }}
{{- end }}
{{- if and $m.tls.existingSecret (ne $m.auth "rbac") }}
{{- fail "metrics.tls.existingSecret needs metrics.auth=rbac (none serves plain HTTP)" }}
{{- end }}
METRICS_BIND_ADDRESS: {{ printf ":%d" (.port | int64) | quote }}
METRICS_AUTH: {{ $m.auth | quote }}
METRICS_TLS_CERT_FILE: {{ ternary "/etc/sharded-scheduler/metrics-tls/tls.crt" "" (not (empty $m.tls.existingSecret)) | quote }}
METRICS_TLS_KEY_FILE: {{ ternary "/etc/sharded-scheduler/metrics-tls/tls.key" "" (not (empty $m.tls.existingSecret)) | quote }}
{{- end }}

{{/*
The probes' server on the pod IP, where the kubelet's probes come from: container env entries.
Call with (dict "port" <health port>).
*/}}
{{- define "sharded-scheduler.healthEnv" -}}
- name: POD_IP
  valueFrom:
    fieldRef:
      fieldPath: status.podIP
- name: HEALTH_BIND_ADDRESS
  value: {{ printf "$(POD_IP):%d" (.port | int64) | quote }}
{{- end }}

{{/* The container ports and probes of a component. Call with (dict "ctx" $ "values" .Values.scheduler). */}}
{{- define "sharded-scheduler.servingPorts" -}}
ports:
  - name: metrics
    containerPort: {{ .values.port | int64 }}
    protocol: TCP
  - name: health
    containerPort: {{ .values.healthPort | int64 }}
    protocol: TCP
{{- end }}

{{/* The serving certificate of /metrics, when given (metrics.tls.existingSecret). */}}
{{/* Volumes of the shards and the coordinator: the profile, and a provided /metrics certificate. */}}
{{- define "sharded-scheduler.volumes" -}}
volumes:
  {{- with .Values.metrics.tls.existingSecret }}
  - name: metrics-tls
    secret:
      secretName: {{ . }}
  {{- end }}
  - name: profile
    configMap:
      name: {{ include "sharded-scheduler.fullname" . }}-profile
{{- end }}

{{- define "sharded-scheduler.volumeMounts" -}}
volumeMounts:
  {{- if .Values.metrics.tls.existingSecret }}
  - name: metrics-tls
    mountPath: /etc/sharded-scheduler/metrics-tls
    readOnly: true
  {{- end }}
  - name: profile
    mountPath: /etc/sharded-scheduler/profile
    readOnly: true
{{- end }}

{{/* The profile file both programs read (templates/profile-configmap.yaml), and its checksum. */}}
{{- define "sharded-scheduler.profileEnv" -}}
- name: PROFILE_CONFIG
  value: /etc/sharded-scheduler/profile/profile.yaml
{{- end }}

{{- define "sharded-scheduler.profileChecksum" -}}
checksum/profile: {{ include (print .Template.BasePath "/profile-configmap.yaml") . | sha256sum }}
{{- end }}

{{/*
ClusterRole rules for /metrics behind delegated RBAC (scheduler/src/serving/metrics-access.ts):
who a scraper's token is, and whether that user may get /metrics. Only with metrics.auth=rbac.
*/}}
{{- define "sharded-scheduler.metricsAuthRules" -}}
{{- if eq .Values.metrics.auth "rbac" }}
# /metrics behind delegated RBAC (serving/metrics-access.ts): who a scraper's bearer token is
# (TokenReview), and whether that user may get the nonResourceURL /metrics (SubjectAccessReview).
- apiGroups: ["authentication.k8s.io"]
  resources: ["tokenreviews"]
  verbs: ["create"]
- apiGroups: ["authorization.k8s.io"]
  resources: ["subjectaccessreviews"]
  verbs: ["create"]
{{- end }}
{{- end }}
