// Original file: proto/dsi/v1/collective.proto


export interface RelayAbort {
  /**
   * Human-readable cause, naming rank and step ("rank 1, step 7: chunk ... has 999 elements, expected 1000").
   */
  'reason'?: (string);
}

export interface RelayAbort__Output {
  /**
   * Human-readable cause, naming rank and step ("rank 1, step 7: chunk ... has 999 elements, expected 1000").
   */
  'reason': (string);
}
