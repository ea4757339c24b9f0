// Generated protocol code (buf + protoc-gen-es): envd's process and filesystem services
// (wire-compatible with E2B's envd) and the host agent's data plane.
export * as processPb from './gen/envd/process/process_pb';
export * as filesystemPb from './gen/envd/filesystem/filesystem_pb';
export * as dataPlanePb from './gen/wrenn/hostagent/v1/dataplane_pb';
