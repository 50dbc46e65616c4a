{{/* Component keys in values, in the order they are rendered. */}}
{{- define "todo.componentKeys" -}}
frontend backend mcpServer aiAgent
{{- end -}}

{{- define "todo.name" -}}
{{- default .Chart.Name .Values.nameOverride | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "todo.fullname" -}}
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

{{- define "todo.chart" -}}
{{- printf "%s-%s" .Chart.Name .Chart.Version | replace "+" "_" | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* kebab-case component name: mcpServer -> mcp-server */}}
{{- define "todo.componentName" -}}
{{- . | kebabcase -}}
{{- end -}}

{{- define "todo.labels" -}}
helm.sh/chart: {{ include "todo.chart" . }}
app.kubernetes.io/name: {{ include "todo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
app.kubernetes.io/version: {{ include "todo.imageTag" . | quote }}
app.kubernetes.io/managed-by: {{ .Release.Service }}
app.kubernetes.io/part-of: todo
app: todo
{{- with .Values.commonLabels }}
{{ toYaml . }}
{{- end }}
{{- end -}}

{{- define "todo.selectorLabels" -}}
app.kubernetes.io/name: {{ include "todo.name" . }}
app.kubernetes.io/instance: {{ .Release.Name }}
{{- end -}}

{{/* Labels of one component. Call with (dict "root" $ "component" "backend"). */}}
{{- define "todo.componentLabels" -}}
{{ include "todo.labels" .root }}
app.kubernetes.io/component: {{ include "todo.componentName" .component }}
component: {{ include "todo.componentName" .component }}
{{- end -}}

{{- define "todo.componentSelectorLabels" -}}
{{ include "todo.selectorLabels" .root }}
app.kubernetes.io/component: {{ include "todo.componentName" .component }}
{{- end -}}

{{/* Deployment strategy of one component (dict "root" $ "component" "backend"): the
component's strategy value, else Recreate for the backend when SQLite is on a PVC (one
writer, ReadWriteOnce volume), else RollingUpdate maxSurge 1 / maxUnavailable 0. */}}
{{- define "todo.strategy" -}}
{{- $c := index .root.Values .component -}}
{{- $db := .root.Values.database -}}
{{- if $c.strategy -}}
{{ toYaml $c.strategy }}
{{- else if and (eq .component "backend") (eq $db.mode "sqlite") $db.sqlite.persistence.enabled -}}
type: Recreate
{{- else -}}
type: RollingUpdate
rollingUpdate:
  maxSurge: 1
  maxUnavailable: 0
{{- end -}}
{{- end -}}

{{/* Resource name of a component (Deployment, ConfigMap...): <fullname>-<component> */}}
{{- define "todo.componentFullname" -}}
{{- printf "%s-%s" (include "todo.fullname" .root) (include "todo.componentName" .component) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{/* Service name of a component: service.name or <fullname>-<component> */}}
{{- define "todo.serviceName" -}}
{{- $c := index .root.Values .component -}}
{{- default (include "todo.componentFullname" .) $c.service.name -}}
{{- end -}}

{{- define "todo.imageTag" -}}
{{- .Values.image.tag | default .Chart.AppVersion -}}
{{- end -}}

{{- define "todo.image" -}}
{{- if .Values.image.digest -}}
{{- printf "%s@%s" .Values.image.repository .Values.image.digest -}}
{{- else -}}
{{- printf "%s:%s" .Values.image.repository (include "todo.imageTag" .) -}}
{{- end -}}
{{- end -}}

{{- define "todo.serviceAccountName" -}}
{{- if .Values.serviceAccount.create -}}
{{- default (include "todo.fullname" .) .Values.serviceAccount.name -}}
{{- else -}}
{{- default "default" .Values.serviceAccount.name -}}
{{- end -}}
{{- end -}}

{{- define "todo.configName" -}}
{{- printf "%s-config" (include "todo.fullname" .) -}}
{{- end -}}

{{- define "todo.secretName" -}}
{{- default (printf "%s-secrets" (include "todo.fullname" .)) .Values.secrets.existingSecret -}}
{{- end -}}

{{/* true when the chart renders its own Secret: whenever no existingSecret is named (it
holds at least the JWT secret, given or generated). */}}
{{- define "todo.renderSecret" -}}
{{- if not .Values.secrets.existingSecret -}}true{{- end -}}
{{- end -}}

{{/* The JWT secret of the chart's Secret: secrets.jwtSecret, or one generated at the first
install and kept across upgrades by reading it back from the live Secret (lookup, as Bitnami
charts do). `helm template` has no cluster to read: it shows a fresh random value. */}}
{{- define "todo.jwtSecretValue" -}}
{{- $s := .Values.secrets -}}
{{- if $s.jwtSecret -}}
{{- $s.jwtSecret -}}
{{- else -}}
{{- $live := lookup "v1" "Secret" .Release.Namespace (include "todo.secretName" .) -}}
{{- if and $live $live.data (hasKey $live.data $s.keys.jwtSecret) -}}
{{- index $live.data $s.keys.jwtSecret | b64dec -}}
{{- else -}}
{{- randAlphaNum 64 -}}
{{- end -}}
{{- end -}}
{{- end -}}

{{/* What the chart's Secret is made from, for the checksum annotation: the values, never a
generated secret (which would change the checksum on every render and roll every pod). */}}
{{- define "todo.secretInputs" -}}
{{- toJson .Values.secrets -}}
{{- end -}}

{{/* The assistant's provider keys: their names under .Values.secrets (and .keys), one table
for the Secret and the containers' environment. */}}
{{- define "todo.llmKeyValues" -}}
openaiApiKey groqApiKey geminiApiKey openrouterApiKey llmApiKey
{{- end -}}

{{- define "todo.postgresqlName" -}}
{{- printf "%s-postgresql" (include "todo.fullname" .) | trunc 63 | trimSuffix "-" -}}
{{- end -}}

{{- define "todo.postgresqlSecretName" -}}
{{- default (include "todo.postgresqlName" .) .Values.database.postgresql.existingSecret -}}
{{- end -}}

{{/* Labels of the bundled PostgreSQL: its version is the PostgreSQL image's, so that an
upgrade of todo's image does not change the StatefulSet's pod template (and restart the
database). */}}
{{/* What the bundled database's password Secret is made from (for checksum annotations). */}}
{{- define "todo.postgresqlSecretInputs" -}}
{{- $pg := .Values.database.postgresql -}}
{{- if eq .Values.database.mode "postgresql" -}}
{{- printf "%s|%s|%s" $pg.password $pg.existingSecret $pg.passwordKey -}}
{{- end -}}
{{- end -}}

{{- define "todo.postgresqlLabels" -}}
{{- $l := fromYaml (include "todo.labels" .) -}}
{{- $_ := set $l "app.kubernetes.io/version" (.Values.database.postgresql.image.tag | toString) -}}
{{ toYaml $l }}
app.kubernetes.io/component: postgresql
component: postgresql
{{- end -}}

{{/* Pod template labels of the bundled PostgreSQL: no chart version either (a chart
upgrade that changes nothing in the pod must not restart the database). */}}
{{- define "todo.postgresqlPodLabels" -}}
{{- $l := fromYaml (include "todo.postgresqlLabels" .) -}}
{{- $_ := unset $l "helm.sh/chart" -}}
{{ toYaml $l }}
{{- end -}}

{{- define "todo.postgresqlSelectorLabels" -}}
{{ include "todo.selectorLabels" . }}
app.kubernetes.io/component: postgresql
{{- end -}}

{{/* DATABASE_URL for the modes that do not keep it in a Secret. */}}
{{- define "todo.databaseUrl" -}}
{{- $db := .Values.database -}}
{{- if eq $db.mode "sqlite" -}}
sqlite:////data/todo.db
{{- else if eq $db.mode "postgresql" -}}
{{- /* No password in the URL: libpq takes it from PGPASSWORD (set from the postgresql Secret). */ -}}
{{- printf "postgresql://%s@%s:%d/%s" $db.postgresql.username (include "todo.postgresqlName" .) (int $db.postgresql.port) $db.postgresql.database -}}
{{- end -}}
{{- end -}}

{{- define "todo.frontendUrl" -}}
{{- if .Values.config.frontendUrl -}}
{{- .Values.config.frontendUrl -}}
{{- else if .Values.ingress.enabled -}}
{{- printf "%s://%s" (ternary "https" "http" (gt (len .Values.ingress.tls) 0)) .Values.ingress.host -}}
{{- end -}}
{{- end -}}

{{/* Restricted Pod Security Standard, UID/GID 10001. */}}
{{- define "todo.podSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
fsGroup: 10001
fsGroupChangePolicy: OnRootMismatch
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{- define "todo.containerSecurityContext" -}}
runAsNonRoot: true
runAsUser: 10001
runAsGroup: 10001
allowPrivilegeEscalation: false
readOnlyRootFilesystem: true
privileged: false
capabilities:
  drop: ["ALL"]
seccompProfile:
  type: RuntimeDefault
{{- end -}}

{{/* Checks that JSON schema cannot express (they need values from several places). */}}
{{- define "todo.validate" -}}
{{- $v := .Values -}}
{{- if and $v.namespace $v.namespace.create -}}
{{- fail (printf "\n\nnamespace.create=true is not supported: Helm 3 stores the release in namespace %q before any chart object exists, so the chart cannot create that namespace (and cannot adopt one made by --create-namespace). Drop namespace.create and run\n  helm install ... -n %s --create-namespace\n  kubectl label namespace %s pod-security.kubernetes.io/enforce=restricted\n(see docs/deploy-kubernetes.md)." .Release.Namespace .Release.Namespace .Release.Namespace) -}}
{{- end -}}
{{- range $key := splitList " " (include "todo.componentKeys" $) }}
{{- $c := index $v $key }}
{{- $stop := add (int $v.config.shutdownTimeoutSeconds) (int $c.preStopSleepSeconds) }}
{{- if and $c.enabled (ge (int $stop) (int $c.terminationGracePeriodSeconds)) }}
{{- fail (printf "\n\nconfig.shutdownTimeoutSeconds (%d) + %s.preStopSleepSeconds (%d) must be less than %s.terminationGracePeriodSeconds (%d), or Kubernetes kills pods before they drain" (int $v.config.shutdownTimeoutSeconds) $key (int $c.preStopSleepSeconds) $key (int $c.terminationGracePeriodSeconds)) }}
{{- end }}
{{- end }}
{{- if not (or $v.frontend.enabled $v.backend.enabled) -}}
{{- fail "\n\nenable at least one of frontend.enabled / backend.enabled" -}}
{{- end -}}
{{- if and $v.persistence.uploads.hostPath.enabled (not $v.persistence.uploads.enabled) -}}
{{- fail "\n\npersistence.uploads.hostPath.enabled needs persistence.uploads.enabled=true" -}}
{{- end -}}
{{- if and $v.persistence.uploads.hostPath.enabled $v.persistence.uploads.existingClaim -}}
{{- fail "\n\npersistence.uploads.hostPath and persistence.uploads.existingClaim are exclusive" -}}
{{- end -}}
{{- end -}}

{{/* The environment variable of each provider key (todo.llmKeyValues), as YAML. */}}
{{- define "todo.llmKeyEnv" -}}
openaiApiKey: OPENAI_API_KEY
groqApiKey: GROQ_API_KEY
geminiApiKey: GEMINI_API_KEY
openrouterApiKey: OPENROUTER_API_KEY
llmApiKey: LLM_API_KEY
{{- end -}}
