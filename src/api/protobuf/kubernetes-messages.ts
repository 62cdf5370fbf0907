/**
 * The protobuf messages of the kinds kubectl's generator commands send (`create namespace |
 * configmap | secret | deployment | service | job | serviceaccount | role | rolebinding ...`,
 * `drain`), written for h8s from the field numbers of upstream's `generated.proto` files
 * (k8s.io/api core/v1, apps/v1, batch/v1, rbac/v1, policy/v1; apimachinery meta/v1, runtime,
 * intstr, resource). Only what a request body can carry is here: statuses are left out (create
 * requests carry empty ones, which decode to `{}`), as are volume sources h8s does not serve.
 *
 * Field options (read by the JSON converter, ignored by the wire format):
 * - `(ptr) = true`: a Go pointer field; its zero value is meaningful and kept (`replicas: 0`).
 *   Non-pointer scalars are always written by Go's marshaller, so their zero values are dropped,
 *   as `omitempty` drops them from JSON.
 * - `(inline) = true`: an embedded Go struct whose fields appear inline in JSON
 *   (`Volume.volumeSource`, `ConfigMapKeySelector.localObjectReference`, `Probe.handler`).
 */

export const META_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.apis.meta.v1;

message Time { optional int64 seconds = 1; optional int32 nanos = 2; }
message MicroTime { optional int64 seconds = 1; optional int32 nanos = 2; }
message FieldsV1 { optional bytes Raw = 1; }

message OwnerReference {
  optional string apiVersion = 5; optional string kind = 1; optional string name = 3; optional string uid = 4;
  optional bool controller = 6 [(ptr) = true]; optional bool blockOwnerDeletion = 7 [(ptr) = true];
}

message ManagedFieldsEntry {
  optional string manager = 1; optional string operation = 2; optional string apiVersion = 3;
  optional Time time = 4 [(ptr) = true]; optional string fieldsType = 6; optional FieldsV1 fieldsV1 = 7 [(ptr) = true];
  optional string subresource = 8;
}

message ObjectMeta {
  optional string name = 1; optional string generateName = 2; optional string namespace = 3; optional string selfLink = 4;
  optional string uid = 5; optional string resourceVersion = 6; optional int64 generation = 7;
  optional Time creationTimestamp = 8; optional Time deletionTimestamp = 9 [(ptr) = true];
  optional int64 deletionGracePeriodSeconds = 10 [(ptr) = true];
  map<string, string> labels = 11; map<string, string> annotations = 12;
  repeated OwnerReference ownerReferences = 13; repeated string finalizers = 14; repeated ManagedFieldsEntry managedFields = 17;
}

message LabelSelectorRequirement { optional string key = 1; optional string operator = 2; repeated string values = 3; }
message LabelSelector { map<string, string> matchLabels = 1; repeated LabelSelectorRequirement matchExpressions = 2; }

message Preconditions { optional string uid = 1 [(ptr) = true]; optional string resourceVersion = 2 [(ptr) = true]; }
message DeleteOptions {
  optional int64 gracePeriodSeconds = 1 [(ptr) = true]; optional Preconditions preconditions = 2 [(ptr) = true];
  optional bool orphanDependents = 3 [(ptr) = true]; optional string propagationPolicy = 4 [(ptr) = true]; repeated string dryRun = 5;
}
`;

export const RUNTIME_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.runtime;

message TypeMeta { optional string apiVersion = 1; optional string kind = 2; }
message Unknown { optional TypeMeta typeMeta = 1; optional bytes raw = 2; optional string contentEncoding = 3; optional string contentType = 4; }
message RawExtension { optional bytes raw = 1; }
`;

export const INTSTR_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.util.intstr;
message IntOrString { optional int64 type = 1; optional int32 intVal = 2; optional string strVal = 3; }
`;

export const RESOURCE_PROTO = `
syntax = "proto2";
package k8s.io.apimachinery.pkg.api.resource;
message Quantity { optional string string = 1; }
`;

export const CORE_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.core.v1;

message LocalObjectReference { optional string name = 1; }
message ObjectReference {
  optional string kind = 1; optional string namespace = 2; optional string name = 3; optional string uid = 4;
  optional string apiVersion = 5; optional string resourceVersion = 6; optional string fieldPath = 7;
}
message SecretReference { optional string name = 1; optional string namespace = 2; }
message TypedLocalObjectReference { optional string apiGroup = 1 [(ptr) = true]; optional string kind = 2; optional string name = 3; }
message TypedObjectReference {
  optional string apiGroup = 1 [(ptr) = true]; optional string kind = 2; optional string name = 3; optional string namespace = 4 [(ptr) = true];
}

// --- Namespace, ConfigMap, Secret, ServiceAccount
message NamespaceSpec { repeated string finalizers = 1; }
message NamespaceStatus { optional string phase = 1; }
message Namespace {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional NamespaceSpec spec = 2; optional NamespaceStatus status = 3;
}
message ConfigMap {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional bool immutable = 4 [(ptr) = true];
  map<string, string> data = 2; map<string, bytes> binaryData = 3;
}
message Secret {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional bool immutable = 5 [(ptr) = true];
  map<string, bytes> data = 2; map<string, string> stringData = 4; optional string type = 3;
}
message ServiceAccount {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; repeated ObjectReference secrets = 2;
  repeated LocalObjectReference imagePullSecrets = 3; optional bool automountServiceAccountToken = 4 [(ptr) = true];
}

// --- Service
message ClientIPConfig { optional int32 timeoutSeconds = 1 [(ptr) = true]; }
message SessionAffinityConfig { optional ClientIPConfig clientIP = 1 [(ptr) = true]; }
message ServicePort {
  optional string name = 1; optional string protocol = 2; optional string appProtocol = 6 [(ptr) = true]; optional int32 port = 3;
  optional k8s.io.apimachinery.pkg.util.intstr.IntOrString targetPort = 4; optional int32 nodePort = 5;
}
message ServiceSpec {
  repeated ServicePort ports = 1; map<string, string> selector = 2; optional string clusterIP = 3; repeated string clusterIPs = 18;
  optional string type = 4; repeated string externalIPs = 5; optional string sessionAffinity = 7; optional string loadBalancerIP = 8;
  repeated string loadBalancerSourceRanges = 9; optional string externalName = 10; optional string externalTrafficPolicy = 11;
  optional int32 healthCheckNodePort = 12; optional bool publishNotReadyAddresses = 13;
  optional SessionAffinityConfig sessionAffinityConfig = 14 [(ptr) = true]; repeated string ipFamilies = 19;
  optional string ipFamilyPolicy = 17 [(ptr) = true]; optional bool allocateLoadBalancerNodePorts = 20 [(ptr) = true];
  optional string loadBalancerClass = 21 [(ptr) = true]; optional string internalTrafficPolicy = 22 [(ptr) = true];
  optional string trafficDistribution = 23 [(ptr) = true];
}
message PortStatus { optional int32 port = 1; optional string protocol = 2; optional string error = 3 [(ptr) = true]; }
message LoadBalancerIngress { optional string ip = 1; optional string hostname = 2; optional string ipMode = 3 [(ptr) = true]; repeated PortStatus ports = 4; }
message LoadBalancerStatus { repeated LoadBalancerIngress ingress = 1; }
message ServiceStatus { optional LoadBalancerStatus loadBalancer = 1; }
message Service {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional ServiceSpec spec = 2; optional ServiceStatus status = 3;
}

// --- Volumes
message KeyToPath { optional string key = 1; optional string path = 2; optional int32 mode = 3 [(ptr) = true]; }
message HostPathVolumeSource { optional string path = 1; optional string type = 2 [(ptr) = true]; }
message EmptyDirVolumeSource { optional string medium = 1; optional k8s.io.apimachinery.pkg.api.resource.Quantity sizeLimit = 2 [(ptr) = true]; }
message SecretVolumeSource {
  optional string secretName = 1; repeated KeyToPath items = 2; optional int32 defaultMode = 3 [(ptr) = true]; optional bool optional = 4 [(ptr) = true];
}
message NFSVolumeSource { optional string server = 1; optional string path = 2; optional bool readOnly = 3; }
message PersistentVolumeClaimVolumeSource { optional string claimName = 1; optional bool readOnly = 2; }
message CinderVolumeSource {
  optional string volumeID = 1; optional string fsType = 2; optional bool readOnly = 3; optional LocalObjectReference secretRef = 4 [(ptr) = true];
}
message ObjectFieldSelector { optional string apiVersion = 1; optional string fieldPath = 2; }
message ResourceFieldSelector {
  optional string containerName = 1; optional string resource = 2; optional k8s.io.apimachinery.pkg.api.resource.Quantity divisor = 3;
}
message DownwardAPIVolumeFile {
  optional string path = 1; optional ObjectFieldSelector fieldRef = 2 [(ptr) = true];
  optional ResourceFieldSelector resourceFieldRef = 3 [(ptr) = true]; optional int32 mode = 4 [(ptr) = true];
}
message DownwardAPIVolumeSource { repeated DownwardAPIVolumeFile items = 1; optional int32 defaultMode = 2 [(ptr) = true]; }
message ConfigMapVolumeSource {
  optional LocalObjectReference localObjectReference = 1 [(inline) = true]; repeated KeyToPath items = 2;
  optional int32 defaultMode = 3 [(ptr) = true]; optional bool optional = 4 [(ptr) = true];
}
message CSIVolumeSource {
  optional string driver = 1; optional bool readOnly = 2 [(ptr) = true]; optional string fsType = 3 [(ptr) = true];
  map<string, string> volumeAttributes = 4; optional LocalObjectReference nodePublishSecretRef = 5 [(ptr) = true];
}
message SecretProjection { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; repeated KeyToPath items = 2; optional bool optional = 4 [(ptr) = true]; }
message ConfigMapProjection { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; repeated KeyToPath items = 2; optional bool optional = 4 [(ptr) = true]; }
message DownwardAPIProjection { repeated DownwardAPIVolumeFile items = 1; }
message ServiceAccountTokenProjection { optional string audience = 1; optional int64 expirationSeconds = 2 [(ptr) = true]; optional string path = 3; }
message VolumeProjection {
  optional SecretProjection secret = 1 [(ptr) = true]; optional DownwardAPIProjection downwardAPI = 2 [(ptr) = true];
  optional ConfigMapProjection configMap = 3 [(ptr) = true]; optional ServiceAccountTokenProjection serviceAccountToken = 4 [(ptr) = true];
}
message ProjectedVolumeSource { repeated VolumeProjection sources = 1; optional int32 defaultMode = 2 [(ptr) = true]; }
message VolumeResourceRequirements {
  map<string, k8s.io.apimachinery.pkg.api.resource.Quantity> limits = 1; map<string, k8s.io.apimachinery.pkg.api.resource.Quantity> requests = 2;
}
message PersistentVolumeClaimSpec {
  repeated string accessModes = 1; optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 4 [(ptr) = true];
  optional VolumeResourceRequirements resources = 2; optional string volumeName = 3; optional string storageClassName = 5 [(ptr) = true];
  optional string volumeMode = 6 [(ptr) = true]; optional TypedLocalObjectReference dataSource = 7 [(ptr) = true];
  optional TypedObjectReference dataSourceRef = 8 [(ptr) = true]; optional string volumeAttributesClassName = 9 [(ptr) = true];
}
message PersistentVolumeClaimTemplate { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional PersistentVolumeClaimSpec spec = 2; }
message EphemeralVolumeSource { optional PersistentVolumeClaimTemplate volumeClaimTemplate = 1 [(ptr) = true]; }
message ImageVolumeSource { optional string reference = 1; optional string pullPolicy = 2; }
message VolumeSource {
  optional HostPathVolumeSource hostPath = 1 [(ptr) = true]; optional EmptyDirVolumeSource emptyDir = 2 [(ptr) = true];
  optional SecretVolumeSource secret = 6 [(ptr) = true]; optional NFSVolumeSource nfs = 7 [(ptr) = true];
  optional PersistentVolumeClaimVolumeSource persistentVolumeClaim = 10 [(ptr) = true]; optional CinderVolumeSource cinder = 13 [(ptr) = true];
  optional DownwardAPIVolumeSource downwardAPI = 16 [(ptr) = true]; optional ConfigMapVolumeSource configMap = 19 [(ptr) = true];
  optional ProjectedVolumeSource projected = 26 [(ptr) = true]; optional CSIVolumeSource csi = 28 [(ptr) = true];
  optional EphemeralVolumeSource ephemeral = 29 [(ptr) = true]; optional ImageVolumeSource image = 30 [(ptr) = true];
}
message Volume { optional string name = 1; optional VolumeSource volumeSource = 2 [(inline) = true]; }
message PersistentVolumeClaimStatus { optional string phase = 1; }
message PersistentVolumeClaim {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional PersistentVolumeClaimSpec spec = 2; optional PersistentVolumeClaimStatus status = 3;
}

// --- Containers
message ContainerPort { optional string name = 1; optional int32 hostPort = 2; optional int32 containerPort = 3; optional string protocol = 4; optional string hostIP = 5; }
message ConfigMapKeySelector { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional string key = 2; optional bool optional = 3 [(ptr) = true]; }
message SecretKeySelector { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional string key = 2; optional bool optional = 3 [(ptr) = true]; }
message EnvVarSource {
  optional ObjectFieldSelector fieldRef = 1 [(ptr) = true]; optional ResourceFieldSelector resourceFieldRef = 2 [(ptr) = true];
  optional ConfigMapKeySelector configMapKeyRef = 3 [(ptr) = true]; optional SecretKeySelector secretKeyRef = 4 [(ptr) = true];
}
message EnvVar { optional string name = 1; optional string value = 2; optional EnvVarSource valueFrom = 3 [(ptr) = true]; }
message ConfigMapEnvSource { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional bool optional = 2 [(ptr) = true]; }
message SecretEnvSource { optional LocalObjectReference localObjectReference = 1 [(inline) = true]; optional bool optional = 2 [(ptr) = true]; }
message EnvFromSource { optional string prefix = 1; optional ConfigMapEnvSource configMapRef = 2 [(ptr) = true]; optional SecretEnvSource secretRef = 3 [(ptr) = true]; }
message ResourceClaim { optional string name = 1; optional string request = 2; }
message ResourceRequirements {
  map<string, k8s.io.apimachinery.pkg.api.resource.Quantity> limits = 1; map<string, k8s.io.apimachinery.pkg.api.resource.Quantity> requests = 2;
  repeated ResourceClaim claims = 3;
}
message ContainerResizePolicy { optional string resourceName = 1; optional string restartPolicy = 2; }
message VolumeMount {
  optional string name = 1; optional bool readOnly = 2; optional string recursiveReadOnly = 7 [(ptr) = true]; optional string mountPath = 3;
  optional string subPath = 4; optional string mountPropagation = 5 [(ptr) = true]; optional string subPathExpr = 6;
}
message VolumeDevice { optional string name = 1; optional string devicePath = 2; }
message ExecAction { repeated string command = 1; }
message HTTPHeader { optional string name = 1; optional string value = 2; }
message HTTPGetAction {
  optional string path = 1; optional k8s.io.apimachinery.pkg.util.intstr.IntOrString port = 2; optional string host = 3;
  optional string scheme = 4; repeated HTTPHeader httpHeaders = 5;
}
message TCPSocketAction { optional k8s.io.apimachinery.pkg.util.intstr.IntOrString port = 1; optional string host = 2; }
message GRPCAction { optional int32 port = 1; optional string service = 2 [(ptr) = true]; }
message SleepAction { optional int64 seconds = 1; }
message ProbeHandler {
  optional ExecAction exec = 1 [(ptr) = true]; optional HTTPGetAction httpGet = 2 [(ptr) = true];
  optional TCPSocketAction tcpSocket = 3 [(ptr) = true]; optional GRPCAction grpc = 4 [(ptr) = true];
}
message Probe {
  optional ProbeHandler handler = 1 [(inline) = true]; optional int32 initialDelaySeconds = 2; optional int32 timeoutSeconds = 3;
  optional int32 periodSeconds = 4; optional int32 successThreshold = 5; optional int32 failureThreshold = 6;
  optional int64 terminationGracePeriodSeconds = 7 [(ptr) = true];
}
message LifecycleHandler {
  optional ExecAction exec = 1 [(ptr) = true]; optional HTTPGetAction httpGet = 2 [(ptr) = true];
  optional TCPSocketAction tcpSocket = 3 [(ptr) = true]; optional SleepAction sleep = 4 [(ptr) = true];
}
message Lifecycle { optional LifecycleHandler postStart = 1 [(ptr) = true]; optional LifecycleHandler preStop = 2 [(ptr) = true]; optional string stopSignal = 3 [(ptr) = true]; }
message Capabilities { repeated string add = 1; repeated string drop = 2; }
message SELinuxOptions { optional string user = 1; optional string role = 2; optional string type = 3; optional string level = 4; }
message WindowsSecurityContextOptions {
  optional string gmsaCredentialSpecName = 1 [(ptr) = true]; optional string gmsaCredentialSpec = 2 [(ptr) = true];
  optional string runAsUserName = 3 [(ptr) = true]; optional bool hostProcess = 4 [(ptr) = true];
}
message SeccompProfile { optional string type = 1; optional string localhostProfile = 2 [(ptr) = true]; }
message AppArmorProfile { optional string type = 1; optional string localhostProfile = 2 [(ptr) = true]; }
message SecurityContext {
  optional Capabilities capabilities = 1 [(ptr) = true]; optional bool privileged = 2 [(ptr) = true];
  optional SELinuxOptions seLinuxOptions = 3 [(ptr) = true]; optional WindowsSecurityContextOptions windowsOptions = 10 [(ptr) = true];
  optional int64 runAsUser = 4 [(ptr) = true]; optional int64 runAsGroup = 8 [(ptr) = true]; optional bool runAsNonRoot = 5 [(ptr) = true];
  optional bool readOnlyRootFilesystem = 6 [(ptr) = true]; optional bool allowPrivilegeEscalation = 7 [(ptr) = true];
  optional string procMount = 9 [(ptr) = true]; optional SeccompProfile seccompProfile = 11 [(ptr) = true];
  optional AppArmorProfile appArmorProfile = 12 [(ptr) = true];
}
message Container {
  optional string name = 1; optional string image = 2; repeated string command = 3; repeated string args = 4; optional string workingDir = 5;
  repeated ContainerPort ports = 6; repeated EnvFromSource envFrom = 19; repeated EnvVar env = 7; optional ResourceRequirements resources = 8;
  repeated ContainerResizePolicy resizePolicy = 23; optional string restartPolicy = 24 [(ptr) = true];
  repeated VolumeMount volumeMounts = 9; repeated VolumeDevice volumeDevices = 21;
  optional Probe livenessProbe = 10 [(ptr) = true]; optional Probe readinessProbe = 11 [(ptr) = true]; optional Probe startupProbe = 22 [(ptr) = true];
  optional Lifecycle lifecycle = 12 [(ptr) = true]; optional string terminationMessagePath = 13; optional string terminationMessagePolicy = 20;
  optional string imagePullPolicy = 14; optional SecurityContext securityContext = 15 [(ptr) = true];
  optional bool stdin = 16; optional bool stdinOnce = 17; optional bool tty = 18;
}

// --- Scheduling
message NodeSelectorRequirement { optional string key = 1; optional string operator = 2; repeated string values = 3; }
message NodeSelectorTerm { repeated NodeSelectorRequirement matchExpressions = 1; repeated NodeSelectorRequirement matchFields = 2; }
message NodeSelector { repeated NodeSelectorTerm nodeSelectorTerms = 1; }
message PreferredSchedulingTerm { optional int32 weight = 1; optional NodeSelectorTerm preference = 2; }
message NodeAffinity {
  optional NodeSelector requiredDuringSchedulingIgnoredDuringExecution = 1 [(ptr) = true];
  repeated PreferredSchedulingTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}
message PodAffinityTerm {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector labelSelector = 1 [(ptr) = true]; repeated string namespaces = 2;
  optional string topologyKey = 3; optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector namespaceSelector = 4 [(ptr) = true];
  repeated string matchLabelKeys = 5; repeated string mismatchLabelKeys = 6;
}
message WeightedPodAffinityTerm { optional int32 weight = 1; optional PodAffinityTerm podAffinityTerm = 2; }
message PodAffinity {
  repeated PodAffinityTerm requiredDuringSchedulingIgnoredDuringExecution = 1;
  repeated WeightedPodAffinityTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}
message PodAntiAffinity {
  repeated PodAffinityTerm requiredDuringSchedulingIgnoredDuringExecution = 1;
  repeated WeightedPodAffinityTerm preferredDuringSchedulingIgnoredDuringExecution = 2;
}
message Affinity {
  optional NodeAffinity nodeAffinity = 1 [(ptr) = true]; optional PodAffinity podAffinity = 2 [(ptr) = true];
  optional PodAntiAffinity podAntiAffinity = 3 [(ptr) = true];
}
message Toleration {
  optional string key = 1; optional string operator = 2; optional string value = 3; optional string effect = 4;
  optional int64 tolerationSeconds = 5 [(ptr) = true];
}
message TopologySpreadConstraint {
  optional int32 maxSkew = 1; optional string topologyKey = 2; optional string whenUnsatisfiable = 3;
  optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector labelSelector = 4 [(ptr) = true]; optional int32 minDomains = 5 [(ptr) = true];
  optional string nodeAffinityPolicy = 6 [(ptr) = true]; optional string nodeTaintsPolicy = 7 [(ptr) = true]; repeated string matchLabelKeys = 8;
}

// --- PodSpec
message Sysctl { optional string name = 1; optional string value = 2; }
message PodSecurityContext {
  optional SELinuxOptions seLinuxOptions = 1 [(ptr) = true]; optional WindowsSecurityContextOptions windowsOptions = 8 [(ptr) = true];
  optional int64 runAsUser = 2 [(ptr) = true]; optional int64 runAsGroup = 6 [(ptr) = true]; optional bool runAsNonRoot = 3 [(ptr) = true];
  repeated int64 supplementalGroups = 4; optional string supplementalGroupsPolicy = 12 [(ptr) = true]; optional int64 fsGroup = 5 [(ptr) = true];
  repeated Sysctl sysctls = 7; optional string fsGroupChangePolicy = 9 [(ptr) = true]; optional SeccompProfile seccompProfile = 10 [(ptr) = true];
  optional AppArmorProfile appArmorProfile = 11 [(ptr) = true]; optional string seLinuxChangePolicy = 13 [(ptr) = true];
}
message HostAlias { optional string ip = 1; repeated string hostnames = 2; }
message PodDNSConfigOption { optional string name = 1; optional string value = 2 [(ptr) = true]; }
message PodDNSConfig { repeated string nameservers = 1; repeated string searches = 2; repeated PodDNSConfigOption options = 3; }
message PodReadinessGate { optional string conditionType = 1; }
message PodOS { optional string name = 1; }
message PodSchedulingGate { optional string name = 1; }
message PodResourceClaim { optional string name = 1; optional string resourceClaimName = 3 [(ptr) = true]; optional string resourceClaimTemplateName = 4 [(ptr) = true]; }
message PodSpec {
  repeated Volume volumes = 1; repeated Container initContainers = 20; repeated Container containers = 2;
  optional string restartPolicy = 3; optional int64 terminationGracePeriodSeconds = 4 [(ptr) = true];
  optional int64 activeDeadlineSeconds = 5 [(ptr) = true]; optional string dnsPolicy = 6; map<string, string> nodeSelector = 7;
  optional string serviceAccountName = 8; optional string serviceAccount = 9; optional bool automountServiceAccountToken = 21 [(ptr) = true];
  optional string nodeName = 10; optional bool hostNetwork = 11; optional bool hostPID = 12; optional bool hostIPC = 13;
  optional bool shareProcessNamespace = 27 [(ptr) = true]; optional PodSecurityContext securityContext = 14 [(ptr) = true];
  repeated LocalObjectReference imagePullSecrets = 15; optional string hostname = 16; optional string subdomain = 17;
  optional Affinity affinity = 18 [(ptr) = true]; optional string schedulerName = 19; repeated Toleration tolerations = 22;
  repeated HostAlias hostAliases = 23; optional string priorityClassName = 24; optional int32 priority = 25 [(ptr) = true];
  optional PodDNSConfig dnsConfig = 26 [(ptr) = true]; repeated PodReadinessGate readinessGates = 28;
  optional string runtimeClassName = 29 [(ptr) = true]; optional bool enableServiceLinks = 30 [(ptr) = true];
  optional string preemptionPolicy = 31 [(ptr) = true]; map<string, k8s.io.apimachinery.pkg.api.resource.Quantity> overhead = 32;
  repeated TopologySpreadConstraint topologySpreadConstraints = 33; optional bool setHostnameAsFQDN = 35 [(ptr) = true];
  optional PodOS os = 36 [(ptr) = true]; optional bool hostUsers = 37 [(ptr) = true]; repeated PodSchedulingGate schedulingGates = 38;
  repeated PodResourceClaim resourceClaims = 39; optional ResourceRequirements resources = 40 [(ptr) = true];
}
message PodTemplateSpec { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional PodSpec spec = 2; }
message PodStatus { optional string phase = 1; }
message Pod { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional PodSpec spec = 2; optional PodStatus status = 3; }
`;

export const APPS_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.apps.v1;

message RollingUpdateDeployment {
  optional k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 1 [(ptr) = true];
  optional k8s.io.apimachinery.pkg.util.intstr.IntOrString maxSurge = 2 [(ptr) = true];
}
message DeploymentStrategy { optional string type = 1; optional RollingUpdateDeployment rollingUpdate = 2 [(ptr) = true]; }
message DeploymentSpec {
  optional int32 replicas = 1 [(ptr) = true]; optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2 [(ptr) = true];
  optional k8s.io.api.core.v1.PodTemplateSpec template = 3; optional DeploymentStrategy strategy = 4; optional int32 minReadySeconds = 5;
  optional int32 revisionHistoryLimit = 6 [(ptr) = true]; optional bool paused = 7; optional int32 progressDeadlineSeconds = 9 [(ptr) = true];
}
message DeploymentStatus { optional int64 observedGeneration = 1; optional int32 replicas = 2; }
message Deployment {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional DeploymentSpec spec = 2; optional DeploymentStatus status = 3;
}

message ReplicaSetSpec {
  optional int32 replicas = 1 [(ptr) = true]; optional int32 minReadySeconds = 4;
  optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2 [(ptr) = true]; optional k8s.io.api.core.v1.PodTemplateSpec template = 3;
}
message ReplicaSetStatus { optional int32 replicas = 1; }
message ReplicaSet {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional ReplicaSetSpec spec = 2; optional ReplicaSetStatus status = 3;
}

message RollingUpdateStatefulSetStrategy {
  optional int32 partition = 1 [(ptr) = true]; optional k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 2 [(ptr) = true];
}
message StatefulSetUpdateStrategy { optional string type = 1; optional RollingUpdateStatefulSetStrategy rollingUpdate = 2 [(ptr) = true]; }
message StatefulSetPersistentVolumeClaimRetentionPolicy { optional string whenDeleted = 1; optional string whenScaled = 2; }
message StatefulSetOrdinals { optional int32 start = 1; }
message StatefulSetSpec {
  optional int32 replicas = 1 [(ptr) = true]; optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 2 [(ptr) = true];
  optional k8s.io.api.core.v1.PodTemplateSpec template = 3; repeated k8s.io.api.core.v1.PersistentVolumeClaim volumeClaimTemplates = 4;
  optional string serviceName = 5; optional string podManagementPolicy = 6; optional StatefulSetUpdateStrategy updateStrategy = 7;
  optional int32 revisionHistoryLimit = 8 [(ptr) = true]; optional int32 minReadySeconds = 9;
  optional StatefulSetPersistentVolumeClaimRetentionPolicy persistentVolumeClaimRetentionPolicy = 10 [(ptr) = true];
  optional StatefulSetOrdinals ordinals = 11 [(ptr) = true];
}
message StatefulSetStatus { optional int32 replicas = 2; }
message StatefulSet {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional StatefulSetSpec spec = 2; optional StatefulSetStatus status = 3;
}

message RollingUpdateDaemonSet {
  optional k8s.io.apimachinery.pkg.util.intstr.IntOrString maxUnavailable = 1 [(ptr) = true];
  optional k8s.io.apimachinery.pkg.util.intstr.IntOrString maxSurge = 2 [(ptr) = true];
}
message DaemonSetUpdateStrategy { optional string type = 1; optional RollingUpdateDaemonSet rollingUpdate = 2 [(ptr) = true]; }
message DaemonSetSpec {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 1 [(ptr) = true]; optional k8s.io.api.core.v1.PodTemplateSpec template = 2;
  optional DaemonSetUpdateStrategy updateStrategy = 3; optional int32 minReadySeconds = 4; optional int32 revisionHistoryLimit = 6 [(ptr) = true];
}
message DaemonSetStatus { optional int32 currentNumberScheduled = 1; }
message DaemonSet {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional DaemonSetSpec spec = 2; optional DaemonSetStatus status = 3;
}
`;

export const BATCH_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.batch.v1;

message PodFailurePolicyOnExitCodesRequirement { optional string containerName = 1 [(ptr) = true]; optional string operator = 2; repeated int32 values = 3; }
message PodFailurePolicyOnPodConditionsPattern { optional string type = 1; optional string status = 2; }
message PodFailurePolicyRule {
  optional string action = 1; optional PodFailurePolicyOnExitCodesRequirement onExitCodes = 2 [(ptr) = true];
  repeated PodFailurePolicyOnPodConditionsPattern onPodConditions = 3;
}
message PodFailurePolicy { repeated PodFailurePolicyRule rules = 1; }
message SuccessPolicyRule { optional string succeededIndexes = 1 [(ptr) = true]; optional int32 succeededCount = 2 [(ptr) = true]; }
message SuccessPolicy { repeated SuccessPolicyRule rules = 1; }
message JobSpec {
  optional int32 parallelism = 1 [(ptr) = true]; optional int32 completions = 2 [(ptr) = true];
  optional int64 activeDeadlineSeconds = 3 [(ptr) = true]; optional PodFailurePolicy podFailurePolicy = 11 [(ptr) = true];
  optional SuccessPolicy successPolicy = 16 [(ptr) = true]; optional int32 backoffLimit = 7 [(ptr) = true];
  optional int32 backoffLimitPerIndex = 12 [(ptr) = true]; optional int32 maxFailedIndexes = 13 [(ptr) = true];
  optional k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector selector = 4 [(ptr) = true]; optional bool manualSelector = 5 [(ptr) = true];
  optional k8s.io.api.core.v1.PodTemplateSpec template = 6; optional int32 ttlSecondsAfterFinished = 8 [(ptr) = true];
  optional string completionMode = 9 [(ptr) = true]; optional bool suspend = 10 [(ptr) = true];
  optional string podReplacementPolicy = 14 [(ptr) = true]; optional string managedBy = 15 [(ptr) = true];
}
message JobStatus { optional int32 active = 4; }
message Job { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional JobSpec spec = 2; optional JobStatus status = 3; }
`;

export const RBAC_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.rbac.v1;

message PolicyRule { repeated string verbs = 1; repeated string apiGroups = 2; repeated string resources = 3; repeated string resourceNames = 4; repeated string nonResourceURLs = 5; }
message AggregationRule { repeated k8s.io.apimachinery.pkg.apis.meta.v1.LabelSelector clusterRoleSelectors = 1; }
message Role { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; repeated PolicyRule rules = 2; }
message ClusterRole {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; repeated PolicyRule rules = 2;
  optional AggregationRule aggregationRule = 3 [(ptr) = true];
}
message Subject { optional string kind = 1; optional string apiGroup = 2; optional string name = 3; optional string namespace = 4; }
message RoleRef { optional string apiGroup = 1; optional string kind = 2; optional string name = 3; }
message RoleBinding { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; repeated Subject subjects = 2; optional RoleRef roleRef = 3; }
message ClusterRoleBinding { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; repeated Subject subjects = 2; optional RoleRef roleRef = 3; }
`;

export const POLICY_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.policy.v1;

message Eviction {
  optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1;
  optional k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions deleteOptions = 2 [(ptr) = true];
}
`;

export const AUTHENTICATION_V1_PROTO = `
syntax = "proto2";
package k8s.io.api.authentication.v1;

message BoundObjectReference { optional string kind = 1; optional string apiVersion = 2; optional string name = 3; optional string uid = 4; }
message TokenRequestSpec {
  repeated string audiences = 1; optional int64 expirationSeconds = 4 [(ptr) = true];
  optional BoundObjectReference boundObjectRef = 3 [(ptr) = true];
}
message TokenRequest { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional TokenRequestSpec spec = 2; }
message TokenReviewSpec { optional string token = 1; repeated string audiences = 2; }
message TokenReview { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; optional TokenReviewSpec spec = 2; }
message SelfSubjectReview { optional k8s.io.apimachinery.pkg.apis.meta.v1.ObjectMeta metadata = 1; }
`;

/** apiVersion/kind → fully qualified message name of the kinds a protobuf body may carry. */
export const PROTOBUF_KINDS: Readonly<Record<string, string>> = {
  'v1/Namespace': 'k8s.io.api.core.v1.Namespace',
  'v1/ConfigMap': 'k8s.io.api.core.v1.ConfigMap',
  'v1/Secret': 'k8s.io.api.core.v1.Secret',
  'v1/Service': 'k8s.io.api.core.v1.Service',
  'v1/ServiceAccount': 'k8s.io.api.core.v1.ServiceAccount',
  'v1/Pod': 'k8s.io.api.core.v1.Pod',
  'v1/PersistentVolumeClaim': 'k8s.io.api.core.v1.PersistentVolumeClaim',
  'apps/v1/Deployment': 'k8s.io.api.apps.v1.Deployment',
  'apps/v1/ReplicaSet': 'k8s.io.api.apps.v1.ReplicaSet',
  'apps/v1/StatefulSet': 'k8s.io.api.apps.v1.StatefulSet',
  'apps/v1/DaemonSet': 'k8s.io.api.apps.v1.DaemonSet',
  'batch/v1/Job': 'k8s.io.api.batch.v1.Job',
  'rbac.authorization.k8s.io/v1/Role': 'k8s.io.api.rbac.v1.Role',
  'rbac.authorization.k8s.io/v1/ClusterRole': 'k8s.io.api.rbac.v1.ClusterRole',
  'rbac.authorization.k8s.io/v1/RoleBinding': 'k8s.io.api.rbac.v1.RoleBinding',
  'rbac.authorization.k8s.io/v1/ClusterRoleBinding': 'k8s.io.api.rbac.v1.ClusterRoleBinding',
  'policy/v1/Eviction': 'k8s.io.api.policy.v1.Eviction',
  'authentication.k8s.io/v1/TokenRequest': 'k8s.io.api.authentication.v1.TokenRequest',
  'authentication.k8s.io/v1/TokenReview': 'k8s.io.api.authentication.v1.TokenReview',
  'authentication.k8s.io/v1/SelfSubjectReview': 'k8s.io.api.authentication.v1.SelfSubjectReview',
  'meta.k8s.io/v1/DeleteOptions': 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions',
  'v1/DeleteOptions': 'k8s.io.apimachinery.pkg.apis.meta.v1.DeleteOptions',
};
