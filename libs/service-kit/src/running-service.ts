/** What booting a service returns: the launcher keeps it to shut the service down in order. */
export interface RunningService {
  name: string;
  close(): Promise<void>;
}
